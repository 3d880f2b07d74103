"""Third-party libraries PyQt6 apps use (session 15, h10): what a user reads
when their code fails inside them.

Real libraries in subprocess apps, offscreen; assertions on exit status,
stderr and the run log.  Each test is skipped when its library is missing.
"""
from __future__ import annotations

import sys

import pytest
from apprunner import run_app

MATPLOTLIB_APP = """
    import sys
    import pyqtguard
    pyqtguard.install()
    import matplotlib
    matplotlib.use("QtAgg")
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    canvas = FigureCanvasQTAgg(Figure())
    line, = canvas.figure.add_subplot().plot([1, 2, 3])
    canvas.show()

    def on_click(event):
        raise KeyError("raised in an mpl_connect handler")

    canvas.mpl_connect("button_press_event", on_click)
    frames = 0

    def update():
        global frames
        frames += 1
        if frames == 2:
            canvas.button_press_event = None
            from matplotlib.backend_bases import MouseEvent
            MouseEvent("button_press_event", canvas, 10, 10, 1)._process()
        if frames == 3:
            line.set_ydata(["a", None, 3])      # every draw from now on fails
        if frames == 12:
            app.quit()
        canvas.draw_idle()

    timer = QTimer()
    timer.timeout.connect(update)
    timer.start(30)
    QTimer.singleShot(30000, app.quit)
    print("exec returned", app.exec(), flush=True)
"""


@pytest.mark.parametrize("under_run", [False, True], ids=["install", "run"])
def test_exceptions_matplotlib_catches_in_its_qt_backend_reach_the_run_log(tmp_path, under_run):
    """matplotlib catches an exception in an ``mpl_connect`` handler
    (``CallbackRegistry``) and one in a draw its Qt canvas started
    (``draw_idle``) and prints it with ``traceback.print_exc()``: before,
    the run log had neither (a windowed app, with no stderr, lost both) and
    a draw that failed on every frame printed its traceback on every frame.
    Now each is reported as a slot's is, ``[matplotlib]``, repeats counted."""
    pytest.importorskip("matplotlib")
    source = MATPLOTLIB_APP
    if under_run:
        source = source.replace("import pyqtguard\n    pyqtguard.install()", "pass")
    result = run_app(source, tmp_path, under_run=under_run)
    assert result.returncode == 0, result.describe()
    assert "exec returned 0" in result.stdout, result.describe()
    log = result.log
    assert "[matplotlib]" in log, log
    assert "KeyError: 'raised in an mpl_connect handler'" in log and "in on_click" in log, log
    assert "ConversionError: Failed to convert value(s) to axis units" in log, log
    # the failing draw: one full report, its repeats counted
    assert log.count("ConversionError: Failed to convert value(s)") == 1, log
    assert "more time" in log, log
    # stderr: pyqtguard's copy only, not matplotlib's print as well
    assert result.stderr.count("KeyError: 'raised in an mpl_connect handler'") == 1, result.stderr
    assert result.stderr.count("ConversionError: Failed to convert value(s)") == 1, result.stderr


PYQTGRAPH_FIRST_APP = """
    import sys
    import pyqtgraph as pg                   # before install(): it sets sys.excepthook
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    plot = pg.PlotWidget()
    curve = plot.plot([0, 1, 2])
    plot.show()

    def update():
        curve.setData([0, 1, 2], [0, 1])      # x and y differ: pyqtgraph raises

    QTimer.singleShot(50, update)
    QTimer.singleShot(400, app.quit)
    print("exec returned", app.exec(), flush=True)
    pyqtguard.uninstall()
    print("hook put back:", sys.excepthook.__name__, flush=True)
"""


def test_pyqtgraph_imported_before_install_does_not_print_each_report_twice(tmp_path):
    """pyqtgraph, when imported, replaces Python's default ``sys.excepthook``
    with one that only calls it (so that PyQt does not abort).  An app that
    imports pyqtgraph before ``install()`` had every exception's traceback
    twice on stderr: pyqtguard's report, and Python's print from the hook it
    chained to.  That hook is Python's default in all but name: not chained
    to (and put back by ``uninstall()``)."""
    pytest.importorskip("pyqtgraph")
    result = run_app(PYQTGRAPH_FIRST_APP, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "exec returned 0" in result.stdout, result.describe()
    assert "hook put back: pyqt_qabort_override" in result.stdout, result.describe()
    assert "X and Y arrays must be the same shape" in result.log, result.describe()
    tracebacks = result.stderr.count("Traceback (most recent call last)")
    reports = result.stderr.count("pyqtguard: uncaught exception in thread 'MainThread'")
    assert reports >= 1 and tracebacks == reports, result.stderr


DOWNLOAD_WORKERS_APP = """
    import functools, http.server, sys, threading, urllib.request
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    from pyqtguard import workers

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory="."))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def download(name):
        with urllib.request.urlopen(f"{base}/{name}", timeout=30) as response:
            return len(response.read())

    app = QApplication(sys.argv)
    failing = workers.Worker(download, "missing.png")    # 404; nothing on errored
    failing.finished.connect(app.quit)
    QTimer.singleShot(0, failing.start)
    QTimer.singleShot(20000, app.quit)
    print("exec returned", app.exec(), flush=True)
"""


def test_a_workers_error_nobody_listens_to_names_the_worker_not_the_gui_thread(tmp_path):
    """A worker's exception with nothing connected to ``errored`` goes to
    the exception hook from the GUI thread, where events are delivered: the
    report said ``uncaught exception in thread 'MainThread'`` (the GUI
    thread's native id) for a download that failed in a worker - three
    failed downloads, three reports naming the GUI thread.  It names the
    worker, as a worker's report with ``errored`` connected does."""
    result = run_app(DOWNLOAD_WORKERS_APP, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "exec returned 0" in result.stdout, result.describe()
    log = result.log
    assert "HTTPError: HTTP Error 404" in log and "in download" in log, log
    header = next(line for line in log.splitlines() if "uncaught exception" in line)
    assert "in thread 'worker-1:download'" in header, header
    assert "'MainThread'" not in header, header


# A local HTTP server whose every request waits two minutes (a download
# that never comes), for the apps below.
NEVER_ANSWERING_SERVER = """
    class NeverAnswers(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(120)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NeverAnswers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
"""

STUCK_DOWNLOAD_APP = """
    import functools, http.server, sys, threading, time, urllib.request
    import pyqtguard
    pyqtguard.install(exit_timeout=8)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    from pyqtguard import workers
""" + NEVER_ANSWERING_SERVER + """
    def download():
        url = f"http://127.0.0.1:{server.server_address[1]}/big.bin"
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.read()

    app = QApplication(sys.argv)
    workers.Worker(download).start()
    QTimer.singleShot(300, app.quit)
    print("exec returned", app.exec(), flush=True)
"""


def test_a_worker_stuck_in_a_download_is_waited_for_and_reported_once(tmp_path):
    """A worker blocked in a request that never answers: quitting waits 5 s
    for it (aboutToQuit) and reports it.  Then interpreter exit waited
    another 5 s for the same worker and reported it a second time - inside
    the exit deadline, so the exit report's MainThread was in pyqtguard's own
    wait.  pyqtguard's later shutdowns no longer wait for a worker an
    earlier one gave up on."""
    result = run_app(STUCK_DOWNLOAD_APP, tmp_path, timeout=60)
    assert result.returncode == 124, result.describe()
    assert "exec returned 0" in result.stdout, result.describe()
    log = result.log
    assert log.count("did not stop within 5 s of being cancelled") == 1, log
    assert "worker 'worker-1:download' (running)" in log, log
    assert "in download" in log and "pyqtguard exit timeout" in log, log
    exit_report = log[log.index("=== pyqtguard exit timeout"):]
    assert "_at_exit" not in exit_report and "_shutdown.py" not in exit_report, exit_report


STUCK_RUNNABLE_APP = """
    import http.server, sys, threading, time, urllib.request
    import pyqtguard
    pyqtguard.install(exit_timeout=3)
    from PyQt6.QtCore import QRunnable, QThreadPool, QTimer
    from PyQt6.QtWidgets import QApplication
""" + NEVER_ANSWERING_SERVER + """
    class Download(QRunnable):
        def run(self):
            url = f"http://127.0.0.1:{server.server_address[1]}/big.bin"
            urllib.request.urlopen(url, timeout=120).read()

    app = QApplication(sys.argv)
    QThreadPool.globalInstance().start(Download())
    QTimer.singleShot(300, app.quit)
    print("exec returned", app.exec(), flush=True)
"""


def test_an_exit_held_by_a_stuck_pool_task_says_why_the_main_thread_waits(tmp_path):
    """The window closed, but a QRunnable is blocked in a download: at exit
    QApplication's destructor waits for Qt's thread pool, and the process
    ends at the deadline (124).  The report listed MainThread with no stack
    and no word on what it waited for; it now says, as it does for a
    non-daemon thread."""
    result = run_app(STUCK_RUNNABLE_APP, tmp_path, timeout=60)
    assert result.returncode == 124, result.describe()
    exit_report = result.log[result.log.index("=== pyqtguard exit timeout"):]
    assert "in run" in exit_report and "urlopen" in exit_report, exit_report
    assert "MainThread runs no Python code" in exit_report, exit_report
    assert "QThreadPool" in exit_report and "'Thread (pooled)'" in exit_report, exit_report


NATIVE_THREAD_CRASH_APP = """
    import ctypes, sys, time
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    libc = ctypes.CDLL(None)

    def crash_in_a_librarys_thread():
        # A thread no Python code runs in, as OpenBLAS's: it aborts at once.
        handle = ctypes.c_ulong()
        libc.pthread_create(ctypes.byref(handle), None,
                            ctypes.cast(libc.abort, ctypes.c_void_p), None)
        time.sleep(10)

    app = QApplication(sys.argv)
    QTimer.singleShot(50, crash_in_a_librarys_thread)
    app.exec()
"""


def test_a_crash_in_a_native_librarys_thread_says_what_that_thread_is(tmp_path):
    """numpy's OpenBLAS threads (a codec's, a driver's) run no Python code
    and have no name but the process's: a crash in one was reported as
    ``thread: 'python' (native id N)``, a name that reads like Python's main
    thread, and the thread legend did not list it.  The legend now says
    what it is."""
    result = run_app(NATIVE_THREAD_CRASH_APP, tmp_path, timeout=60)
    assert result.returncode == -6, result.describe()
    log = result.log
    report = log[log.index("=== pyqtguard crash report ==="):]
    header = report[:report.index("\n\n")]
    thread_line = next(line for line in header.splitlines() if line.startswith("thread: "))
    assert "'MainThread'" not in thread_line, header
    legend = report[report.index("Threads (ident"):]
    legend = legend[:legend.index("\n\n")]
    assert "not a Python thread, QThread or pyqtguard worker" in legend, legend
    assert "(native id" in thread_line and thread_line.split("native id ")[1].rstrip(")") in legend, legend


GIL_HELD_FREEZE_APP = """
    import sys, threading, time
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    def work():
        # As numpy does on object arrays (np.unique, np.array of a list): a
        # long C call holding the GIL - here it begins just after the
        # watchdog's report helper has started running Python code.
        began = time.monotonic()
        while time.monotonic() - began < 10:
            if any(t.name == "pyqtguard-report" for t in list(threading._active.values())):
                break
        sum(range(300_000_000))
        app.quit()

    app = QApplication(sys.argv)
    QTimer.singleShot(50, work)
    app.exec()
"""


def test_a_freeze_report_python_could_not_finish_in_time_is_not_written_again_late(tmp_path):
    """The GUI thread took the GIL back from the freeze report's helper and
    held it for seconds (numpy on object arrays does): the watchdog wrote
    its own report without the GIL after 1.5 s, as it should, and then the
    helper's report came too, seconds later, after the "still frozen"
    report, with the freeze's length as it was when it began.  A report
    the watchdog has given up on is not written any more."""
    result = run_app(GIL_HELD_FREEZE_APP, tmp_path, timeout=90)
    assert result.returncode == 0, result.describe()
    log = result.log
    # Which report it is depends on who wins the GIL (on a loaded machine the
    # helper may finish first); there is one either way.
    assert log.count("GUI freeze: the event loop has not turned for") == 1, log
    assert "in work" in log and "GUI freeze ended" in log, log


PYQTGRAPH_HANDLER_FIRST_APP = """
    import sys, threading
    import pyqtgraph.exceptionHandling as exception_handling   # wraps both hooks
    exception_handling.register(lambda *args: print("pyqtgraph callback", flush=True))
    handler = exception_handling.handler
    before = (handler.orig_sys_excepthook, handler.orig_threading_excepthook)
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    def fails_in_a_thread():
        raise KeyError("raised in a thread")

    app = QApplication(sys.argv)
    QTimer.singleShot(10, lambda: 1 / 0)
    QTimer.singleShot(50, lambda: threading.Thread(target=fails_in_a_thread).start())
    QTimer.singleShot(400, app.quit)
    app.exec()
    pyqtguard.uninstall()
    print("put back:", handler.orig_sys_excepthook is before[0],
          handler.orig_threading_excepthook is before[1], flush=True)
"""


def test_pyqtgraphs_exception_handler_installed_before_pyqtguard_does_not_print_twice(tmp_path):
    """``pyqtgraph.exceptionHandling`` wraps Python's default hooks: its
    callbacks, then the default's print.  Chained to by ``install()``, every
    exception was on stderr twice (pyqtguard's report, then Python's).  Its
    callbacks still run; its call of Python's default is left out while
    pyqtguard is installed, and put back by ``uninstall()``."""
    pytest.importorskip("pyqtgraph")
    result = run_app(PYQTGRAPH_HANDLER_FIRST_APP, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.stdout.count("pyqtgraph callback") == 2, result.describe()
    assert "put back: True True" in result.stdout, result.describe()
    assert result.stderr.count("ZeroDivisionError") == 1, result.stderr
    assert result.stderr.count("KeyError: 'raised in a thread'") == 1, result.stderr
    assert "Exception in thread" not in result.stderr, result.stderr
    assert "ZeroDivisionError" in result.log and "raised in a thread" in result.log, result.log


def test_the_watchdogs_own_reports_leave_out_pyqtguards_report_helpers(tmp_path):
    """The report the watchdog writes without Python when the GIL is held
    (the freeze's, and "still frozen" with every thread) listed pyqtguard's
    own report helper - blocked on the GIL in pyqtguard's and traceback's
    frames - as a thread of the app: ``'pyqtguard-report'`` in the table,
    ``Thread (native id N)`` with ``watchdog/freeze.py`` frames."""
    source = GIL_HELD_FREEZE_APP.replace("sum(range(300_000_000))",
                                         "sum(range(600_000_000))")
    result = run_app(source, tmp_path, timeout=120)
    assert result.returncode == 0, result.describe()
    log = result.log
    # (On a loaded machine the helper may finish before the GUI thread takes
    # the GIL back: no report without Python then, nothing to leave out.)
    assert "'pyqtguard-report'" not in log, log         # (the app's line has it in "")
    assert "in work" in log, log
    if sys.version_info < (3, 13):
        # 3.13+: faulthandler writes these stacks, every thread's (README)
        assert "pyqtguard/watchdog" not in log and "_report_freeze" not in log, log


FREEZE_THEN_CRASH_APP = """
    import ctypes, sys, threading, time
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    QTimer.singleShot(50, lambda: time.sleep(1.5))        # a freeze, reported
    QTimer.singleShot(2500, lambda: ctypes.string_at(0))  # then a crash
    app.exec()
"""


def test_a_crash_after_a_freeze_report_does_not_list_the_ended_report_helper(tmp_path):
    """The freeze report's helper named itself 'pyqtguard-report' in the
    thread table and never left it: a crash report written afterwards listed
    a thread that had ended."""
    result = run_app(FREEZE_THEN_CRASH_APP, tmp_path, timeout=60)
    assert result.returncode == -11, result.describe()
    log = result.log
    assert "GUI freeze: the event loop has not turned for" in log, log
    report = log[log.index("=== pyqtguard crash report ==="):]
    legend = report[report.index("Threads (ident"):]
    legend = legend[:legend.index("\n\n")]
    assert "pyqtguard-report" not in legend, legend
