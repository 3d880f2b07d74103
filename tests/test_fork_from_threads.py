"""``fork()`` from a thread other than the GUI thread, while other threads
are inside pyqtguard: the child must do what it would do without pyqtguard.

A fork copies one thread.  A lock another thread held at that moment stays
held in the child for ever, and the GUI thread the parent posts work to is
not there.  Real apps in subprocesses (tests/apprunner.py): a QApplication
runs its loop, some threads keep pyqtguard busy, another forks in a loop;
each child does one thing and ends.  A child that has not ended within a
few seconds hangs (killed; the app stops at the first).
"""
from __future__ import annotations

import re
import sys

import pytest

from apprunner import run_app

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork from threads: Linux")

# {setup}: after install() and the QApplication; {busy}: one turn of the
# busy threads' work; {child}: the child's work before os._exit(0).
FORK_WHILE_BUSY = """
    import os, signal, sys, threading, time
    sys.setswitchinterval(1e-6)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    import pyqtguard
    {install}
    app = QApplication([])
    {setup}
    stop = threading.Event()
    outcome = {{"ok": 0, "hang": 0, "other": []}}

    def busy():
        while not stop.is_set():
            {busy}

    def child():
        {child}

    def forker():
        for _ in range({forks}):
            pid = os.fork()
            if pid == 0:
                try:
                    child()
                finally:
                    os._exit(0)
            deadline = time.monotonic() + 4
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    code = os.waitstatus_to_exitcode(status)
                    if code == 0:
                        outcome["ok"] += 1
                    else:
                        outcome["other"].append(code)
                    break
                if time.monotonic() > deadline:
                    outcome["hang"] += 1
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.002)
            if outcome["hang"]:
                break
        stop.set()

    workers = [threading.Thread(target=busy, daemon=True) for _ in range(3)]
    for thread in workers:
        thread.start()
    forking = threading.Thread(target=forker)
    QTimer.singleShot(0, lambda: forking.start())
    poll = QTimer()
    poll.timeout.connect(lambda: stop.is_set() and app.quit())
    poll.start(20)
    app.exec()
    forking.join()
    print("outcome", outcome, flush=True)
"""


def _run_forks(tmp_path, *, install="pyqtguard.install()", setup="", busy, child,
               forks=40):
    source = FORK_WHILE_BUSY.format(install=install, setup=setup, busy=busy,
                                    child=child, forks=forks)
    result = run_app(source, tmp_path, timeout=240)
    assert result.returncode == 0, result.describe()
    assert f"outcome {{'ok': {forks}, 'hang': 0, 'other': []}}" in result.stdout, \
        result.describe()
    return result


@pytest.mark.parametrize("guarded", [False, True], ids=["without", "with"])
def test_a_child_that_logs_while_breadcrumbs_were_being_kept_does_not_hang(tmp_path, guarded):
    # report_to keeps the app's last log lines (breadcrumbs) under a lock
    # taken at every record: a thread holding it at the fork left the
    # child's first log record waiting for ever (9 children of 30 hung;
    # logging's own locks are made anew in a fork child).
    _run_forks(
        tmp_path,
        install="pyqtguard.install(report_to=[lambda report: None])" if guarded else "",
        setup="import logging\n    logging.getLogger().addHandler(logging.NullHandler())",
        busy="logging.getLogger('app').warning('busy %s', 1)",
        child="logging.getLogger('child').warning('in the child')")


STDERR_PANE_CHILD = """
    import os, sys, threading, time
    from PyQt6.QtCore import QMetaObject, Qt, QTimer
    from PyQt6.QtWidgets import QApplication
    {install}
    app = QApplication([])

    class Pane:                     # the app's console pane
        def __init__(self):
            self.parts = []
        def write(self, text):
            self.parts.append(text)
            return len(text)
        def flush(self):
            pass

    pane = Pane()
    sys.stderr = pane

    def raise_in_child():
        {raise_it}

    def worker():
        pid = os.fork()
        if pid == 0:
            raise_in_child()
            time.sleep(0.3)
            shown = "ZeroDivisionError" in "".join(pane.parts)
            os.write(1, f"child's pane shows it: {{shown}}\\n".encode())
            os._exit(0)
        os.waitpid(pid, 0)
        QMetaObject.invokeMethod(app, "quit", Qt.ConnectionType.QueuedConnection)

    QTimer.singleShot(0, lambda: threading.Thread(target=worker).start())
    app.exec()
"""

RAISE_IN_A_THREAD = ("thread = threading.Thread(target=lambda: 1 / 0)\n"
                     "        thread.start()\n"
                     "        thread.join()")
RAISE_IN_THE_FORKING_THREAD = ("try:\n"
                               "            1 / 0\n"
                               "        except ZeroDivisionError:\n"
                               "            sys.excepthook(*sys.exc_info())")


@pytest.mark.parametrize("raise_it", [RAISE_IN_A_THREAD, RAISE_IN_THE_FORKING_THREAD],
                         ids=["a-thread-of-the-child", "the-forking-thread"])
@pytest.mark.parametrize("guarded", [False, True], ids=["without", "with"])
def test_a_fork_child_of_a_worker_thread_writes_its_reports_to_the_apps_stderr(
        tmp_path, guarded, raise_it):
    # The copy for a replaced sys.stderr goes to the GUI thread's loop in
    # the parent; the child of a worker thread has no GUI thread: the copy
    # was posted there and never written.
    # The on_exception callbacks, posted there too, never ran either.
    install = ("import pyqtguard\n    pyqtguard.install()\n    pyqtguard.on_exception("
               "lambda record: os.write(1, b'callback ran\\n'))") if guarded else ""
    result = run_app(STDERR_PANE_CHILD.format(install=install, raise_it=raise_it),
                     tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "child's pane shows it: True" in result.stdout, result.describe()
    if guarded:
        assert result.log.count("ZeroDivisionError: division by zero") == 1, result.describe()
        assert result.stdout.count("callback ran") == 1, result.describe()


FORK_WHILE_THE_FIRST_REPORT_IMPORTS = """
    import os, signal, sys, threading, time
    sys.setswitchinterval(1e-6)
    from PyQt6.QtCore import QMetaObject, Qt, QTimer
    from PyQt6.QtWidgets import QApplication
    import pyqtguard
    {install}
    app = QApplication([])
    go = threading.Event()

    def first_report():
        go.wait()
        1 / 0

    def forker():
        pids = []
        go.set()
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                # A thread on a stack of its own: not the importing thread's
                # (the child's new thread takes a dead thread's cached stack,
                # and with it its ident - the import lock's owner).
                threading.Thread(target=time.sleep, args=(0.5,), daemon=True).start()
                thread = threading.Thread(target=lambda: 1 / 0)
                thread.start()
                thread.join()
                os._exit(0)
            pids.append(pid)
        hung = 0
        deadline = time.monotonic() + 5
        for pid in pids:
            while not os.waitpid(pid, os.WNOHANG)[0]:
                if time.monotonic() > deadline:
                    hung += 1
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.005)
        print("children hung:", hung, flush=True)
        QMetaObject.invokeMethod(app, "quit", Qt.ConnectionType.QueuedConnection)

    threading.Thread(target=first_report, daemon=True).start()
    QTimer.singleShot(0, lambda: threading.Thread(target=forker).start())
    app.exec()
"""


@pytest.mark.parametrize("guarded", [False, True], ids=["without", "with"])
def test_a_fork_while_the_first_report_is_being_written_leaves_no_child_hanging(
        tmp_path, guarded):
    # The first report imports pyqtguard's delivery module and traceback in
    # the thread that raised; a fork meanwhile left their import locks held
    # in the child, whose own first report then waited for ever (15-19 of
    # 20 children; none without pyqtguard).
    # A window the before-fork hook cannot close (a report's import begun
    # after it looked, before the fork) is closed in the child: 3.12 still
    # had a child hang in 6 runs of 10 without that.
    install = "pyqtguard.install()" if guarded else ""
    result = run_app(FORK_WHILE_THE_FIRST_REPORT_IMPORTS.format(install=install),
                     tmp_path, timeout=120)
    assert result.returncode == 0, result.describe()
    if guarded or sys.version_info < (3, 13):
        # From 3.13 Python's own default hook imports traceback in the
        # thread too: without pyqtguard, 5 runs of 8 had children hang.
        assert "children hung: 0" in result.stdout, result.describe()


@pytest.mark.skipif(sys.version_info[:2] != (3, 12),
                    reason="3.12's fork warning is shown with the import lock held "
                           "(3.11: no warning; 3.13+: shown after the lock is let go)")
def test_the_forking_parent_does_not_hang_in_312s_fork_warning(tmp_path):
    # CPython 3.12's os.fork() shows "This process is multi-threaded, use of
    # fork() may lead to deadlocks" in the parent while it still holds the
    # import lock; showing it imports linecache.  A first report importing
    # linecache in another thread then (through traceback) waits for that
    # import lock, and the fork for linecache's: the parent hung for good
    # (2 of 65 runs of the test above under load; CI, session 23: the report
    # began just after the before-fork hook looked).  Here a thread's import
    # of linecache is made slow, so the fork always lands inside it; the
    # hook now imports linecache on 3.12 whatever began, which waits for it
    # (this app hangs without pyqtguard too: CPython's window, closed).
    result = run_app("""
        import importlib.machinery, os, sys, threading, time
        import pyqtguard
        pyqtguard.install()
        importing = threading.Event()

        class SlowLinecache:
            def find_spec(self, name, path=None, target=None):
                if name != "linecache":
                    return None
                spec = importlib.machinery.PathFinder.find_spec(name, path)
                run = spec.loader.exec_module
                def exec_module(module):
                    importing.set()
                    time.sleep(0.5)
                    run(module)
                spec.loader.exec_module = exec_module
                return spec

        sys.meta_path.insert(0, SlowLinecache())
        threading.Thread(target=__import__, args=("linecache",)).start()
        importing.wait(10)

        def fork():
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            print("forked", flush=True)

        forker = threading.Thread(target=fork)
        forker.start()
        forker.join()
    """, tmp_path, timeout=20)
    assert result.returncode == 0, result.describe()
    assert result.stdout.strip() == "forked", result.describe()


def test_the_before_fork_hook_imports_everything_a_first_report_imports(tmp_path):
    # A fork while another thread's first report (or first Qt message)
    # imports a module leaves that import's lock held in the child, whose
    # own report then waits for it for ever.  The before-fork hook imports
    # those modules first, once a report has begun: it must know every one
    # (it knew three of nine: 1 run in 15 still had a child hang, in
    # linecache's or tokenize's import).
    result = run_app("""
        import gc, sys, threading
        import pyqtguard
        pyqtguard.install(stderr=False)
        from pyqtguard import exceptions
        from PyQt6.QtCore import qWarning
        from PyQt6.QtWidgets import QApplication
        app = QApplication([])
        before = set(sys.modules)

        class Finalized:
            def __del__(self):
                raise OSError("in __del__")

        Finalized()
        gc.collect()
        try:
            1 / 0
        except ZeroDivisionError:
            sys.excepthook(*sys.exc_info())
        for target in (lambda: 1 / 0, lambda: qWarning("from a thread")):
            thread = threading.Thread(target=target)
            thread.start()
            thread.join()
        qWarning("from the GUI thread")
        imported = set(sys.modules) - before
        known = {name for group in exceptions.REPORT_IMPORTS.values() for name in group}
        # "_ast", "_opcode", 3.12's "_tokenize": C modules the listed ones
        # import; "re._parser": a listed package's own (importing those
        # waits for them too)
        print("not imported before a fork:",
              sorted(name for name in imported - known
                     if not name.startswith("_") and name.split(".")[0] not in known))
    """, tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "not imported before a fork: []" in result.stdout, result.describe()


# Reports queued in the parent (auto_send to a slow callable) when it forks;
# the child (os.fork, or a multiprocessing fork pool's workers) raises its
# own.  Every report is handed to the destination once: the parent's by the
# parent, the child's by the child.
QUEUED_REPORTS_AT_FORK = """
    import multiprocessing, os, sys, threading, time
    import pyqtguard
    from pyqtguard.reporting import sender
    OUT = os.path.abspath("sent.txt")

    def on_report(report):
        time.sleep(0.2)
        with open(OUT, "a") as out:
            out.write(f"{{os.getpid()}} {{report.title}}\\n")

    pyqtguard.install(report_to=[on_report], auto_send=True, repeat_interval=0)

    def raise_in_a_thread(name):
        def boom():
            raise LookupError(name)
        thread = threading.Thread(target=boom)
        thread.start()
        thread.join()

    def in_child(name):
        raise_in_a_thread(name)
        return sender.wait_idle(30)

    for n in range(4):
        raise_in_a_thread(f"parent-{{n}}")
    time.sleep(0.1)                 # the first on its way, three queued
    if {how!r} == "os.fork":
        pid = os.fork()
        if pid == 0:
            os._exit(0 if in_child("child-0") else 3)
        print("child exit:", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
    else:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            print("children idle:", pool.map(in_child, ["child-0", "child-1"]), flush=True)
    print("parent idle:", sender.wait_idle(30), flush=True)
"""


@pytest.mark.parametrize("how", ["os.fork", "pool"])
def test_a_fork_child_does_not_send_the_parents_queued_reports_again(tmp_path, how):
    # The child inherited the parent's queue of reports to send: its first
    # report started a sender that sent the parent's queued ones again
    # (3 duplicates per child).
    result = run_app(QUEUED_REPORTS_AT_FORK.format(how=how), tmp_path, timeout=120)
    assert result.returncode == 0, result.describe()
    assert "parent idle: True" in result.stdout, result.describe()
    sent = (tmp_path / "sent.txt").read_text().splitlines()
    titles = sorted(line.split(" ", 1)[1] for line in sent)
    children = ["child-0"] if how == "os.fork" else ["child-0", "child-1"]
    assert titles == sorted(f"LookupError: {name}"
                            for name in [f"parent-{n}" for n in range(4)] + children), sent
    assert not list((tmp_path / "logs" / "unsent-reports").glob("*.json")), sent


# An exception in a slot PyQt6 calls is queued by pyqtguard's hook and
# written a moment later by the main (or GUI) thread.  The fork comes while
# the parent's main thread writes one (its on_exception callback holds it
# there) or before the GUI thread got to it; the child raises in a slot of
# its own.  The app's own sys.excepthook prints (without one PyQt6 aborts).
QUEUED_EXCEPTION_AT_FORK = """
    import os, sys, threading, time, traceback
    from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal
    from PyQt6.QtWidgets import QApplication
    sys.excepthook = lambda *exc: traceback.print_exception(*exc)
    guarded = {guarded!r}
    if guarded:
        import pyqtguard
        pyqtguard.install(repeat_interval=0)    # the child raises where the parent did
    app = QApplication([])

    class Source(QObject):
        raised = pyqtSignal(str)

    source = Source()

    def slot(name):
        raise LookupError(name)

    source.raised.connect(slot, Qt.ConnectionType.DirectConnection)
    writing = threading.Event()

    def slow_callback(record):          # the parent's writer, held
        if "parent" in str(record.exc_value) and not writing.is_set():
            writing.set()
            time.sleep(1)

    def fork_and_wait(in_child):
        pid = os.fork()
        if pid == 0:
            in_child()
            for _ in range(50):
                time.sleep(0.01)        # the child's main thread: pending calls
            os._exit(0)
        os.waitpid(pid, 0)

    def child_raises():
        source.raised.emit("child-slot")

    if {when!r} == "while-the-parent-writes-one":
        if guarded:
            pyqtguard.on_exception(slow_callback)
        else:
            writing.set()
        forker = threading.Thread(
            target=lambda: writing.wait(10) and fork_and_wait(child_raises))
        forker.start()
        source.raised.emit("parent-slot")
        for _ in range(150):
            time.sleep(0.01)            # the main thread writes it here
        forker.join()
    else:                               # queued for the GUI thread's loop
        def go():
            source.raised.emit("parent-slot")
            fork_and_wait(lambda: threading.Thread(target=lambda: 1 / 0).start())
            QTimer.singleShot(200, app.quit)

        QTimer.singleShot(0, go)
        app.exec()
    print("parent done", flush=True)
"""


@pytest.mark.parametrize("when", ["while-the-parent-writes-one", "queued-for-the-loop"])
@pytest.mark.parametrize("guarded", [False, True], ids=["without", "with"])
def test_a_fork_child_writes_its_own_exception_reports_and_not_its_parents(
        tmp_path, guarded, when):
    # The child inherited the queue and its writer: while the parent's main
    # thread wrote a queued report, the child's queued reports were never
    # written (its writer was a thread it does not have); a report still
    # queued in the parent was written by the child too, as the child's
    # (its pid, the parent's thread).
    result = run_app(QUEUED_EXCEPTION_AT_FORK.format(guarded=guarded, when=when),
                     tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "parent done" in result.stdout, result.describe()
    child = ("LookupError: child-slot" if when == "while-the-parent-writes-one"
             else "ZeroDivisionError: division by zero")
    assert result.stderr.count("LookupError: parent-slot") == (2 if guarded else 1), \
        result.describe()            # (with: pyqtguard's report and the app's hook)
    if guarded:
        assert result.log.count("LookupError: parent-slot") == 1, result.describe()
        assert result.log.count(child) == 1, result.describe()
    else:
        assert child in result.stderr, result.describe()


# call_in_gui in a fork child of a thread other than the GUI thread: the
# child has no GUI thread, nothing will ever run the call.  {caller}: the
# forking thread itself or a thread the child starts; {when}: the fork
# while the GUI thread runs its loop, or before any loop ran.
CALL_IN_GUI_IN_A_FORK_CHILD = """
    import os, signal, sys, threading, time
    from PyQt6.QtCore import QMetaObject, Qt, QTimer
    from PyQt6.QtWidgets import QApplication
    import pyqtguard
    pyqtguard.install()
    from pyqtguard.workers import call_in_gui
    app = QApplication([])

    def call():
        try:
            answer = call_in_gui(lambda: "ran", timeout=None)
            os.write(1, f"child: returned {{answer!r}}\\n".encode())
        except RuntimeError as exc:
            os.write(1, f"child: RuntimeError: {{exc}}\\n".encode())

    def in_child():
        if {caller!r} == "a-thread-of-the-child":
            thread = threading.Thread(target=call)
            thread.start()
            thread.join()
        else:
            call()

    def worker():
        pid = os.fork()
        if pid == 0:
            in_child()
            os._exit(0)
        deadline = time.monotonic() + 5
        while not os.waitpid(pid, os.WNOHANG)[0]:
            if time.monotonic() > deadline:
                print("child hung", flush=True)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.01)
        # the parent's own call still answered by its GUI thread
        print("parent:", call_in_gui(lambda: "ran", timeout=10), flush=True)
        QMetaObject.invokeMethod(app, "quit", Qt.ConnectionType.QueuedConnection)

    thread = threading.Thread(target=worker)
    if {when!r} == "before-the-loop":
        thread.start()
        time.sleep(0.5)                 # forked: the GUI thread sleeps here
    else:
        QTimer.singleShot(0, thread.start)
    app.exec()
    thread.join()
    print("parent done", flush=True)
"""


@pytest.mark.parametrize("when", ["while-the-loop-runs", "before-the-loop"])
@pytest.mark.parametrize("caller", ["the-forking-thread", "a-thread-of-the-child"])
def test_call_in_gui_in_a_fork_child_of_another_thread_fails_at_once(tmp_path, caller, when):
    # The child has no GUI thread: call_in_gui(..., timeout=None) posted to
    # the parent's hub and waited for ever (the child killed after 5 s).
    # Now a RuntimeError at once, as once the interpreter exits.  (The same
    # without install(): call_in_gui does not depend on it.)
    result = run_app(CALL_IN_GUI_IN_A_FORK_CHILD.format(caller=caller, when=when),
                     tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "child hung" not in result.stdout, result.describe()
    assert "child: RuntimeError: " in result.stdout, result.describe()
    assert "no GUI thread" in result.stdout, result.describe()
    assert "parent: ran" in result.stdout, result.describe()
    assert "parent done" in result.stdout, result.describe()


# call_in_gui imported for the first time in the fork child (the parent
# imported pyqtguard, with or without install(), but not pyqtguard.workers):
# {forker} is a threading.Thread, a QThread or a QThreadPool worker; the
# child calls with {timeout}.
CALL_IN_GUI_FIRST_IMPORTED_IN_A_FORK_CHILD = """
    import os, signal, sys, threading, time
    from PyQt6.QtCore import QMetaObject, QRunnable, Qt, QThread, QThreadPool, QTimer
    from PyQt6.QtWidgets import QApplication
    import pyqtguard
    {install}
    app = QApplication([])

    def in_child():
        from pyqtguard.workers import call_in_gui   # first imported here
        started = time.monotonic()
        try:
            answer = call_in_gui(lambda: "ran", timeout={timeout})
            os.write(1, f"child: returned {{answer!r}}\\n".encode())
        except Exception as exc:
            os.write(1, f"child: {{type(exc).__name__}}: {{exc}} after "
                        f"{{time.monotonic() - started:.1f}} s\\n".encode())

    def fork():
        pid = os.fork()
        if pid == 0:
            in_child()
            os._exit(0)
        deadline = time.monotonic() + 5
        while not os.waitpid(pid, os.WNOHANG)[0]:
            if time.monotonic() > deadline:
                print("child hung", flush=True)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.01)
        from pyqtguard.workers import call_in_gui
        print("parent:", call_in_gui(lambda: "ran", timeout=10), flush=True)
        QMetaObject.invokeMethod(app, "quit", Qt.ConnectionType.QueuedConnection)

    class Forker(QThread):
        def run(self):
            fork()

    class Task(QRunnable):
        def run(self):
            fork()

    if {forker!r} == "threading.Thread":
        thread = threading.Thread(target=fork)
        QTimer.singleShot(0, thread.start)
    elif {forker!r} == "QThread":
        thread = Forker()
        QTimer.singleShot(0, thread.start)
    else:
        task = Task()
        task.setAutoDelete(False)
        QTimer.singleShot(0, lambda: QThreadPool.globalInstance().start(task))
    app.exec()
    QThreadPool.globalInstance().waitForDone()
    if {forker!r} != "QThreadPool":
        thread.wait() if {forker!r} == "QThread" else thread.join()
    print("parent done", flush=True)
"""


@pytest.mark.parametrize(("forker", "install", "timeout"), [
    ("threading.Thread", "pyqtguard.install()", "None"),
    ("QThread", "", "None"),
    ("QThreadPool", "pyqtguard.install()", "3"),
])
def test_call_in_gui_first_imported_in_a_fork_child_of_another_thread_fails_at_once(
        tmp_path, forker, install, timeout):
    # call_in_gui's fork hook was registered at its module's import: a child
    # that imported pyqtguard.workers only after the fork had no note of it,
    # and its call_in_gui(..., timeout=None) waited for ever (killed after
    # 5 s; a timeout: TimeoutError at its end).  Now a RuntimeError at once,
    # as when the module was imported before the fork.
    result = run_app(CALL_IN_GUI_FIRST_IMPORTED_IN_A_FORK_CHILD.format(
        forker=forker, install=install, timeout=timeout), tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "child hung" not in result.stdout, result.describe()
    failed = re.search(r"^child: RuntimeError: no GUI thread .* after ([0-9.]+) s$",
                       result.stdout, re.M)
    assert failed and float(failed.group(1)) < 1, result.describe()
    assert "parent: ran" in result.stdout, result.describe()
    assert "parent done" in result.stdout, result.describe()


# A fork child of the main thread that ends by the interpreter's exit
# while the parent runs a QThread (stops when asked, in the parent): the
# child has no such thread.  {when}: the fork before the loop (the QThread
# without a parent), or after app.exec() returned (the QThread a window's
# child, its parent watched from the loop's end).
PARENTS_QTHREAD_AT_A_CHILDS_EXIT = """
    import os, signal, sys, threading, time
    from PyQt6.QtCore import QThread, QTimer
    from PyQt6.QtWidgets import QApplication, QWidget
    import pyqtguard
    pyqtguard.install(exit_timeout=3)
    app = QApplication([])

    class Spin(QThread):
        def run(self):
            while not self.isInterruptionRequested():
                time.sleep(0.01)

    def fork_and_wait():
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            return True
        while not os.waitpid(pid, os.WNOHANG)[0]:
            if time.monotonic() > started + 15:
                print("child hung", flush=True)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.01)
        print(f"child ended in {{time.monotonic() - started:.1f}} s", flush=True)
        return False

    def main():
        window = QWidget()
        spin = Spin(window if {when!r} == "after-the-loop" else None)
        spin.setObjectName("parents-spinner")
        spin.start()
        if {when!r} == "after-the-loop":
            QTimer.singleShot(100, app.quit)
            app.exec()
        else:
            time.sleep(0.1)
        if fork_and_wait():
            sys.exit(0)                 # the child: the interpreter's exit
        spin.requestInterruption()
        spin.wait()

    main()
    print("parent done", flush=True)
"""


@pytest.mark.parametrize("when", ["before-the-loop", "after-the-loop"])
def test_a_fork_childs_exit_does_not_wait_for_or_name_its_parents_qthreads(tmp_path, when):
    # The child's exit asked the parent's QThread to stop, waited for it to
    # the deadline (2.5 s of 3) and logged "QThread 'parents-spinner' ...
    # did not stop when asked" as the child's: the thread is not in the
    # child.  (Without pyqtguard the child's exit is at once.)
    result = run_app(PARENTS_QTHREAD_AT_A_CHILDS_EXIT.format(when=when), tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "parent done" in result.stdout, result.describe()
    took = re.search(r"child ended in ([0-9.]+) s", result.stdout)
    assert took and float(took.group(1)) < 1.5, result.describe()
    assert "(forked child, pid" in result.log, result.describe()   # the child's exit logged
    assert "parents-spinner" not in "".join(
        line for line in result.log.splitlines(True) if "(forked child, pid" in line), \
        result.describe()
    assert "did not stop when asked" not in result.log, result.describe()


# A fork child made once the app's shutdown has begun (app.exec() returned:
# the deadline counts in the parent), whose own exit then hangs on a
# forgotten thread.  The parent waits for it in a second loop (a new loop:
# no deadline for the parent meanwhile).
CHILD_FORKED_AFTER_SHUTDOWN_BEGAN = """
    import os, signal, sys, threading, time
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    import pyqtguard
    pyqtguard.install(exit_timeout=2)
    app = QApplication([])
    QTimer.singleShot(50, app.quit)
    app.exec()                          # shutdown began
    pid = os.fork()
    if pid == 0:
        threading.Thread(target=time.sleep, args=(60,)).start()   # never joined in time
        sys.exit(0)
    started = time.monotonic()
    ended = []

    def poll():
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            ended.append(os.waitstatus_to_exitcode(status))
            app.quit()
        elif time.monotonic() > started + 20:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            ended.append("hung")
            app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(20)
    app.exec()
    print(f"child: {{ended[0]}} after {{time.monotonic() - started:.1f}} s", flush=True)
"""


def test_a_fork_child_made_after_shutdown_began_has_its_own_bounded_exit(tmp_path):
    # The child kept the parent's "shutdown began" (Python) without its
    # deadline (C, forgotten in a fork child): its own exit began none -
    # no deadline, no line - and hung on its forgotten thread for good
    # (killed after 20 s).  A child forked before the loop's end was
    # bounded.
    result = run_app(CHILD_FORKED_AFTER_SHUTDOWN_BEGAN.format(), tmp_path, timeout=90)
    assert result.returncode == 0, result.describe()
    assert re.search(r"^child: 124 after [0-9.]+ s$", result.stdout, re.M), result.describe()
    began = re.search(r"^\[[^\]]+\] \(forked child, pid (\d+)\) pyqtguard: shutdown began "
                      r"\(the interpreter is exiting\); the process has 2 s to end", result.log,
                      re.M)
    assert began, result.describe()
    # The child's exit-timeout report lists its main thread as such: it was
    # 'python', kind 'native' (threading keeps the parent's native id for
    # the thread that forked, 3.11; the listing then took another thread
    # for the main one).
    pid = began.group(1)
    assert re.search(rf"^MainThread +main +{pid} ", result.log, re.M), result.describe()
    assert not re.search(rf"^\S+ +native +{pid} ", result.log, re.M), result.describe()


# A pyqtguard worker runs in the parent when the main thread forks; the
# child shuts its workers down (pyqtguard.shutdown(), as aboutToQuit does).
PARENTS_WORKER_AT_A_CHILDS_SHUTDOWN = """
    import os, sys, time
    from PyQt6.QtWidgets import QApplication
    import pyqtguard
    pyqtguard.install()
    from pyqtguard import workers
    app = QApplication([])

    def spin(state):
        while not state.cancelled:
            time.sleep(0.01)

    workers.Worker(spin, name="parents-spin").start()
    time.sleep(0.3)                     # running
    pid = os.fork()
    if pid == 0:
        started = time.monotonic()
        left = pyqtguard.shutdown(timeout=3)
        os.write(1, f"child: {{left}} after {{time.monotonic() - started:.1f}} s\\n".encode())
        os._exit(0)
    os.waitpid(pid, 0)
    print("parent:", pyqtguard.shutdown(timeout=3), flush=True)
"""


def test_a_fork_childs_shutdown_does_not_wait_for_its_parents_workers(tmp_path):
    # The child's shutdown() waited its whole timeout for the parent's
    # running worker (no thread runs it in the child) and logged it as the
    # child's: "(forked child, pid N) ... 1 worker(s) did not stop".
    result = run_app(PARENTS_WORKER_AT_A_CHILDS_SHUTDOWN.format(), tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    took = re.search(r"^child: \[\] after ([0-9.]+) s$", result.stdout, re.M)
    assert took and float(took.group(1)) < 1.5, result.describe()
    assert "parent: []" in result.stdout, result.describe()
    assert "did not stop" not in result.log, result.describe()


# The GUI thread forks in a slot and the child's loop goes on (a child that
# carries on as a copy of the app): the child opens files at once, which take
# the lowest free descriptor numbers, and measures its CPU over one second
# of its idle loop.  Then the parent gets a SIGINT while the child's loop
# still runs.
CHILDS_LOOP_GOES_ON = """
    import os, signal, sys, time
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication, QWidget
    import pyqtguard
    {install}
    app = QApplication([])
    window = QWidget()
    window.show()
    files, child = [], []

    def fork():
        print("parent's Ctrl+C pipe:", pipe_inode(), flush=True)
        pid = os.fork()
        if pid == 0:
            for _ in range(8):
                files.append(open(__file__, "rb"))   # regular files: always readable
            cpu = time.process_time()
            os.write(1, f"child's Ctrl+C pipe: {{pipe_inode()}}\\n".encode())

            def report():
                used = time.process_time() - cpu
                os.write(1, f"child cpu: {{used:.2f}} s\\n".encode())
                os._exit(0)

            QTimer.singleShot(1000, report)
            return
        child.append(pid)
        QTimer.singleShot(1300, {end_parent})

    def pipe_inode():
        interrupts = sys.modules.get("pyqtguard.interrupts")
        pipe = getattr(interrupts, "_pipe", None)
        return os.fstat(pipe[0]).st_ino if pipe else None

    def quitting():
        os.waitpid(child[0], 0)
        print("parent quit", flush=True)

    app.aboutToQuit.connect(quitting)
    QTimer.singleShot(100, fork)
    QTimer.singleShot(15000, app.quit)
    try:
        app.exec()
    except KeyboardInterrupt:
        pass
"""


@pytest.mark.parametrize("guarded", [False, True], ids=["plain", "guarded"])
def test_a_fork_child_whose_loop_goes_on_neither_spins_nor_takes_its_parents_wake_ups(
        tmp_path, guarded):
    # The exception reports' wake-up pipe is closed in a fork child
    # (src/exchooks.c) but its QSocketNotifier stayed on: Qt warned
    # "QSocketNotifier: Invalid socket 8", or - the child's next file taking
    # that number - the child's idle loop spun on a file always readable
    # (0.93 s of CPU in its 1 s; plain: 0.00).  The interrupt pipe's
    # notifier watched the pipe the parent's SIGINT handler writes to: the
    # child could drain the parent's wake-up.  Plain: the baseline (a
    # SIGINT would raise KeyboardInterrupt in a slot there: quit() instead).
    result = run_app(CHILDS_LOOP_GOES_ON.format(
        install="pyqtguard.install()" if guarded else "",
        end_parent="lambda: os.kill(os.getpid(), signal.SIGINT)" if guarded else "app.quit"),
        tmp_path, timeout=60)
    used = re.search(r"^child cpu: ([0-9.]+) s$", result.stdout, re.M)
    assert used is not None, result.describe()
    assert float(used.group(1)) < 0.3, result.describe()
    assert "Invalid socket" not in result.stderr, result.describe()
    assert "parent quit" in result.stdout, result.describe()
    pipes = re.findall(r"^(?:parent|child)'s Ctrl\+C pipe: (\w+)$", result.stdout, re.M)
    assert len(pipes) == 2, result.describe()
    if guarded:
        assert pipes[0] != "None" and pipes[0] != pipes[1], result.describe()


# Which of pyqtguard's after-fork hooks ask Qt something in the child: the
# module PyQt6.QtCore is swapped for one that notes each attribute read in
# the child's pid, just around the fork.  {where}: the forking thread.
QT_TOUCHED_IN_A_FORK_CHILD = """
    import os, sys, threading, types
    from PyQt6 import QtCore
    from PyQt6.QtWidgets import QApplication
    import pyqtguard
    pyqtguard.install()
    from pyqtguard import workers
    app = QApplication([])
    real = sys.modules["PyQt6.QtCore"]

    class Noting(types.ModuleType):
        def __getattr__(self, name):
            if os.getpid() != parent:
                os.write(1, f"child read QtCore.{{name}}\\n".encode())
            return getattr(real, name)

    def fork():
        sys.modules["PyQt6.QtCore"] = Noting("PyQt6.QtCore")
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        sys.modules["PyQt6.QtCore"] = real
        os.waitpid(pid, 0)

    parent = os.getpid()
    if {where!r} == "the-gui-thread":
        fork()
    else:
        thread = threading.Thread(target=fork)
        thread.start()
        thread.join()
    print("parent done", flush=True)
"""


@pytest.mark.parametrize("where", ["the-gui-thread", "a-thread"])
def test_a_fork_childs_hooks_do_not_ask_qt(tmp_path, where):
    # call_in_gui's after-fork hook asked Qt in every fork child whether it
    # was the GUI thread: 0.25-0.5 ms a fork (the child's first touch of
    # Qt's and sip's pages), in multiprocessing's workers and subprocess's
    # preexec_fn children that never use Qt.  The parent asks, before the
    # fork (a few microseconds); the child only reads the answer.
    result = run_app(QT_TOUCHED_IN_A_FORK_CHILD.format(where=where), tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "parent done" in result.stdout, result.describe()
    assert "child read" not in result.stdout, result.describe()


FORK_HOOKS_QT_CALLS = """
    import os, sys, threading
    from PyQt6.QtCore import QCoreApplication
    import pyqtguard
    {install}
    app = QCoreApplication([])
    calls = []

    def record(frame, event, arg):        # Qt's methods: sip's built-in methods
        owner = getattr(arg, "__self__", None)
        if event == "c_call" and str(getattr(owner, "__module__", "")).startswith("PyQt6"):
            calls.append(arg.__qualname__)

    def fork():
        sys.setprofile(record)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        sys.setprofile(None)
        os.waitpid(pid, 0)

    thread = threading.Thread(target=fork)
    thread.start()
    thread.join()
    print("worker fork:", sorted(set(calls)), flush=True)
    calls.clear()
    fork()
    print("GUI thread fork:", sorted(set(calls)), flush=True)
"""


@pytest.mark.parametrize("install", ["", "pyqtguard.install()"], ids=["imported", "installed"])
def test_a_fork_from_another_thread_makes_no_qt_call_there(tmp_path, install):
    # pyqtguard's before-fork note asked Qt whether the forking thread was
    # the GUI thread (QThread.currentThread()), which adopts a thread Qt
    # does not know: a fork child of such a thread then hung in its first
    # exception report (3.13, 1-3 of 15 runs of
    # test_a_fork_while_the_first_report_is_being_written_leaves_no_child_hanging).
    # Off the GUI thread it now goes by thread idents alone; in the GUI
    # thread it still asks (the global pool's busy count).
    result = run_app(FORK_HOOKS_QT_CALLS.format(install=install), tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    worker = next(line for line in result.stdout.splitlines() if line.startswith("worker"))
    # QCoreApplication.instance() only reads a pointer: it adopts nothing
    assert worker == "worker fork: ['QCoreApplication.instance']", worker
    gui = next(line for line in result.stdout.splitlines() if line.startswith("GUI"))
    assert "activeThreadCount" in gui, gui        # the recorder sees Qt calls
