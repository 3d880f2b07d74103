"""``install(check_threads=True)``: a Qt widget used from a thread other
than the GUI thread is reported with the thread and the Python line - the
silent cause of random crashes that a release Qt does not warn about."""
from __future__ import annotations

import re
import sys

import pytest

from apprunner import run_app

WORKER_APP = """
    import threading
    import pyqtguard
    pyqtguard.install({options})
    from PyQt6 import QtWidgets, QtCore
    app = QtWidgets.QApplication([])
    label = QtWidgets.QLabel("waiting")
    def fetch():
        for _ in range(100):
            label.setText("done")        # wrong: a worker changes a widget
    def fine():
        label.thread()                   # thread-safe calls of QObject
        label.deleteLater
        QtCore.QCoreApplication.postEvent(label, QtCore.QEvent(QtCore.QEvent.Type.User))
        QtCore.QMetaObject.invokeMethod(label, "update",
                                        QtCore.Qt.ConnectionType.QueuedConnection)
    worker = threading.Thread(target=fetch, name="fetcher")
    worker.start()
    worker.join()
    other = threading.Thread(target=fine, name="polite")
    other.start()
    other.join()
    label.setText("from the GUI thread")    # right
    QtCore.QTimer.singleShot(0, app.quit)
    app.exec()
"""


def _reports(log: str) -> list[str]:
    events = log.split("\n[")
    return [e for e in events if "Qt widget used outside the GUI thread" in e]


def test_a_worker_calling_a_widget_method_is_reported_once_with_its_line(tmp_path):
    result = run_app(WORKER_APP.format(options="check_threads=True"), tmp_path)
    assert result.returncode == 0, result.describe()
    reports = _reports(result.log)
    assert len(reports) == 1, result.log
    report = reports[0]
    assert "QLabel.setText() called in thread 'fetcher'" in report, report
    assert "line 10, in fetch" in report and 'label.setText("done")' in report, report
    assert "threading.py" not in report and "pyqtguard" not in report.split("\n", 1)[1], report
    assert "99 more" not in report
    assert "QLabel.setText() called in thread 'fetcher'" in result.stderr, result.stderr
    assert "polite" not in result.log


def test_off_by_default(tmp_path):
    result = run_app(WORKER_APP.format(options=""), tmp_path)
    assert result.returncode == 0, result.describe()
    assert _reports(result.log) == [], result.log
    assert "outside the GUI thread" not in result.stderr


def test_on_from_the_environment_under_run(tmp_path):
    result = run_app(WORKER_APP.replace("    import pyqtguard\n", "").replace(
        "    pyqtguard.install({options})\n", ""), tmp_path, under_run=True,
        env={"PYQTGUARD_CHECK_THREADS": "1"})
    assert result.returncode == 0, result.describe()
    assert len(_reports(result.log)) == 1, result.log


def test_a_profiler_in_the_worker_keeps_its_place_and_qthreads_are_checked(tmp_path):
    """A thread that runs a profiler keeps it (3.11: the check steps aside;
    3.12+: cProfile uses sys.monitoring, both run); a QThread's run() is
    checked like a Python thread."""
    result = run_app("""
        import sys, threading, cProfile, pstats
        import pyqtguard
        pyqtguard.install(check_threads=True)
        from PyQt6 import QtWidgets, QtCore
        app = QtWidgets.QApplication([])
        label = QtWidgets.QLabel("waiting")
        seen = []
        def profiled():
            profiler = cProfile.Profile()
            profiler.enable()
            label.text()
            profiler.disable()
            calls = pstats.Stats(profiler).stats
            seen.append(any("text" in str(function) for function in calls))
        worker = threading.Thread(target=profiled, name="profiled")
        worker.start()
        worker.join()
        class Loader(QtCore.QThread):
            def run(self):
                label.setWordWrap(True)
        loader = Loader()
        loader.setObjectName("loader")
        loader.start()
        loader.wait()
        print("profiler kept:", seen, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "profiler kept: [True]" in result.stdout, result.describe()
    reports = _reports(result.log)
    # 3.11: the profiler took the thread's profile function; 3.12+: cProfile
    # uses sys.monitoring and the check runs beside it.
    profiled = [r for r in reports if "QLabel.text() called in thread 'profiled'" in r]
    assert len(profiled) == (0 if sys.version_info < (3, 12) else 1), result.log
    loader = [r for r in reports if "QLabel.setWordWrap() called in thread 'loader'" in r]
    assert len(loader) == 1 and "in run" in loader[0], result.log
    assert len(reports) == len(profiled) + 1, result.log


@pytest.mark.parametrize("value", ["yes please", "2"])
def test_a_bad_environment_value_is_warned_about_and_ignored(tmp_path, value):
    result = run_app(WORKER_APP.format(options=""), tmp_path,
                     env={"PYQTGUARD_CHECK_THREADS": value})
    assert result.returncode == 0, result.describe()
    assert "ignoring PYQTGUARD_CHECK_THREADS" in result.stderr, result.stderr
    assert _reports(result.log) == []


def test_a_wrong_type_is_a_programming_error(tmp_path):
    result = run_app("""
        import pyqtguard
        try:
            pyqtguard.install(check_threads="yes")
        except TypeError as exc:
            print("TypeError:", exc)
    """, tmp_path)
    assert "TypeError: check_threads must be a bool, not str" in result.stdout, result.describe()


def test_a_moved_worker_objects_slots_and_executor_tasks_are_checked(tmp_path):
    """The usual patterns: a worker QObject moved to a QThread (its slots run
    by the thread's own event loop, one call from C++ each) and a
    ThreadPoolExecutor task."""
    result = run_app("""
        from concurrent.futures import ThreadPoolExecutor
        import pyqtguard
        pyqtguard.install(check_threads=True)
        from PyQt6 import QtWidgets, QtCore
        app = QtWidgets.QApplication([])
        bar = QtWidgets.QProgressBar()
        class Worker(QtCore.QObject):
            done = QtCore.pyqtSignal()
            @QtCore.pyqtSlot()
            def first(self):
                pass
            @QtCore.pyqtSlot()
            def step(self):
                bar.setValue(50)
                self.done.emit()
        thread = QtCore.QThread()
        thread.setObjectName("mover")
        worker = Worker()
        worker.moveToThread(thread)
        thread.started.connect(worker.first)
        worker.done.connect(app.quit)
        thread.start()
        QtCore.QTimer.singleShot(100, worker.step)     # runs in the thread's loop
        app.exec()
        thread.quit()
        thread.wait()
        with ThreadPoolExecutor(thread_name_prefix="pool") as pool:
            pool.submit(bar.setFormat, "%p").result()
            pool.submit(lambda: bar.reset()).result()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    reports = _reports(result.log)
    text = "\n".join(reports)
    assert "QProgressBar.setValue() called in thread 'mover'" in text, result.log
    assert "in step" in text
    assert "QProgressBar.reset() called in thread 'pool_0'" in text, result.log
    # The pool called the widget's method itself: reported where it did.
    assert "QProgressBar.setFormat() called in thread 'pool_0'" in text, result.log
    assert len(reports) == 3, result.log


def test_names_from_the_app_cannot_forge_log_lines(tmp_path):
    result = run_app("""
        import threading
        import pyqtguard
        pyqtguard.install(check_threads=True)
        from PyQt6 import QtWidgets
        app = QtWidgets.QApplication([])
        forged = "\\n[2026-01-01 00:00:00.000 UTC] pyqtguard: interpreter exit\\n"
        Label = type("Label" + forged, (QtWidgets.QLabel,), {})
        label = Label()
        worker = threading.Thread(target=lambda: label.setText("x"), name="w" + forged)
        worker.start()
        worker.join()
        import os
        os._exit(0)                      # no real "interpreter exit" line
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert len(_reports(result.log)) == 1, result.log
    assert "\n[2026-01-01" not in result.log and "\n[2026-01-01" not in result.stderr
    assert "pyqtguard: interpreter exit" in result.log       # escaped, inside the report
    assert "\npyqtguard: interpreter exit" not in result.log


@pytest.mark.skipif(sys.version_info < (3, 12),
                    reason="3.12+: a thread's profile function is sys.monitoring "
                           "instrumentation of every thread's code")
def test_the_gui_thread_is_not_slowed_once_the_checked_threads_have_ended(tmp_path):
    """From 3.12 CPython runs a thread's profile function through
    instrumentation shared by all threads: while a checked thread runs, the
    GUI thread's calls are slower too (2-3x in call-heavy code).  Once the
    checked threads have ended it must run as fast as without the check -
    the instrumentation stayed, for good, after the first checked thread."""
    result = run_app("""
        import dis, threading
        import pyqtguard
        pyqtguard.install(check_threads=True)
        from PyQt6 import QtWidgets, QtCore
        app = QtWidgets.QApplication([])
        def gui_work():
            return len("ab")
        def instrumented():
            gui_work()
            return any(i.opname.startswith("INSTRUMENTED")
                       for i in dis.get_instructions(gui_work, adaptive=True))
        print("before:", instrumented())
        worker = threading.Thread(target=lambda: None, name="short")
        worker.start()
        worker.join()
        print("after a thread:", instrumented())
        class Loader(QtCore.QThread):
            def run(self):
                pass
        loader = Loader()
        loader.start()
        loader.wait()
        app.processEvents()
        print("after a QThread:", instrumented())
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "before: False" in result.stdout, result.describe()
    assert "after a thread: False" in result.stdout, result.describe()
    assert "after a QThread: False" in result.stdout, result.describe()


def test_the_report_is_written_to_an_apps_console_pane_by_the_gui_thread(tmp_path):
    """Apps point sys.stderr at a widget (a console pane).  The report of a
    worker's wrong call must not itself be a worker's call of a widget (the
    crash it warns about): its copy for a replaced stderr is written by the
    GUI thread, as exception reports' are."""
    result = run_app("""
        import sys, threading
        import pyqtguard
        pyqtguard.install(check_threads=True)
        from PyQt6 import QtWidgets, QtCore
        app = QtWidgets.QApplication([])
        label = QtWidgets.QLabel("x")
        pane = QtWidgets.QPlainTextEdit()
        class Pane:
            def write(self, text):
                print("pane written in", threading.current_thread().name,
                      file=sys.__stdout__, flush=True)
                pane.appendPlainText(text)
            def flush(self):
                pass
        sys.stderr = Pane()
        worker = threading.Thread(target=lambda: label.setText("x"), name="fetcher")
        QtCore.QTimer.singleShot(0, worker.start)
        QtCore.QTimer.singleShot(300, app.quit)
        app.exec()
        worker.join()
        sys.stderr = sys.__stderr__
        print("pane:", repr(pane.toPlainText()))
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "pane written in MainThread" in result.stdout, result.describe()
    assert "pane written in fetcher" not in result.stdout, result.describe()
    assert "pane: 'pyqtguard: Qt widget used outside the GUI thread: QLabel.setText()" \
        in result.stdout, result.describe()
    assert len(_reports(result.log)) == 1, result.log


def test_the_worker_pattern_a_slot_connected_to_started_before_start_is_checked(tmp_path):
    """The canonical PyQt worker: ``worker.moveToThread(thread)``,
    ``thread.started.connect(worker.run)``, ``thread.start()``.  The app's
    slot on ``started`` runs before any slot connected later, pyqtguard's
    (connected at start()) included: its whole work ran unchecked."""
    result = run_app("""
        import pyqtguard
        pyqtguard.install(check_threads=True)
        from PyQt6 import QtWidgets, QtCore
        app = QtWidgets.QApplication([])
        label = QtWidgets.QLabel("waiting")
        class Worker(QtCore.QObject):
            done = QtCore.pyqtSignal()
            def run(self):
                # wrong: the worker's thread (a method per thread: a calling
                # line is reported once)
                getattr(label, self.thread().objectName())("done")
                self.done.emit()
        class Subclassed(QtCore.QThread):
            def __init__(self, parent=None):
                super().__init__(parent)
                self.setObjectName("setToolTip")
        for thread in (QtCore.QThread(), Subclassed()):
            if not thread.objectName():
                thread.setObjectName("setText")
            worker = Worker()
            worker.moveToThread(thread)
            thread.started.connect(worker.run)
            worker.done.connect(thread.quit)
            thread.finished.connect(app.quit)
            thread.start()
            app.exec()
            thread.wait()
        print("ended", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "ended" in result.stdout, result.describe()
    reports = _reports(result.log)
    assert len(reports) == 2, result.log
    assert "QLabel.setText() called in thread 'setText'" in reports[0], result.log
    assert "QLabel.setToolTip() called in thread 'setToolTip'" in reports[1], result.log
    assert all("in run" in report for report in reports), result.log


def test_qthreads_terminated_inside_python_do_not_crash_the_threads_after_them(tmp_path):
    """terminate() of a QThread inside a Python call (run() in exec() or
    msleep()) leaves that call's thread state behind with frames on a stack
    that is gone.  From 3.12 a change of profile functions walks every
    thread state's frames: the check must not make one as such a thread
    ends (the crash came with the next checked thread's end)."""
    result = run_app("""
        import threading
        import pyqtguard
        pyqtguard.install(check_threads=True)
        from PyQt6 import QtWidgets, QtCore
        app = QtWidgets.QApplication([])
        label = QtWidgets.QLabel("x")
        blocking = threading.Semaphore(0)
        class Looping(QtCore.QThread):
            def run(self):
                label.setText("a")
                blocking.release()
                if self.objectName() == "sleeper":
                    self.msleep(600_000)
                self.exec()
        threads = [Looping() for _ in range(4)]
        threads[0].setObjectName("sleeper")
        for thread in threads:
            thread.start()
        # Each thread inside its blocking call, the GIL let go: terminated
        # while it held the GIL (or waited for it: pthread_cond_wait is a
        # cancellation point), a thread takes the GIL with it and the
        # process hangs, with or without pyqtguard.  That happened with a
        # fixed 300 ms wait and a sleep loop on a loaded machine.
        for _ in threads:
            blocking.acquire()
        QtCore.QThread.msleep(100)
        for thread in threads:
            thread.terminate()
            thread.wait()
        print("terminated", flush=True)
        for _ in range(3):
            worker = threading.Thread(target=lambda: label.text())
            worker.start()
            worker.join()
            plain = Looping()
            plain.start()
            QtCore.QThread.msleep(20)
            plain.quit()
            plain.wait()
        print("after", flush=True)
    """, tmp_path, timeout=60)
    assert "terminated" in result.stdout and "after" in result.stdout, result.describe()
    assert result.returncode == 0, result.describe()


def test_a_thread_whose_name_is_not_utf8_encodable_is_checked(tmp_path):
    """A name made from a file name os.listdir() decoded with surrogateescape
    ('load \\udcff.png') cannot be encoded for the C thread table: the
    thread went unrecorded - and so unchecked."""
    result = run_app("""
        import threading
        import pyqtguard
        pyqtguard.install(check_threads=True)
        from PyQt6 import QtWidgets
        app = QtWidgets.QApplication([])
        label = QtWidgets.QLabel("x")
        worker = threading.Thread(target=lambda: label.setText("x"), name="load \\udcff.png")
        worker.start()
        worker.join()
        print("threads:", [t.name for t in pyqtguard.threads()], flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    reports = _reports(result.log)
    assert len(reports) == 1, result.describe()
    assert "QLabel.setText() called in thread 'load \\udcff.png'" in reports[0], reports[0]


# A worker of the parent makes a wrong call (reported); then {forker} forks
# and a thread of the child makes the same call at the same line.
WRONG_CALL_ON_BOTH_SIDES_OF_A_FORK = """
    import os, sys, threading
    import pyqtguard
    pyqtguard.install(check_threads=True)
    from PyQt6 import QtWidgets
    app = QtWidgets.QApplication([])
    label = QtWidgets.QLabel("x")

    def touch():
        label.setText("from a worker")      # wrong: the same line in both

    def in_a_thread(name):
        thread = threading.Thread(target=touch, name=name)
        thread.start()
        thread.join()

    def fork():
        pid = os.fork()
        if pid == 0:
            in_a_thread("childs-worker")
            os._exit(0)
        print("child", pid, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)

    in_a_thread("parents-worker")
    if {forker!r} == "the-main-thread":
        fork()
    else:
        in_a_thread_forking = threading.Thread(target=fork)
        in_a_thread_forking.start()
        in_a_thread_forking.join()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork: Linux")
@pytest.mark.parametrize("forker", ["the-main-thread", "a-thread"])
def test_a_fork_child_reports_its_own_wrong_thread_calls(tmp_path, forker):
    # The table of places already reported (src/widgetcheck.c seen[]) was
    # copied into fork children: a child never reported a wrong call at a
    # place its parent had reported - the child's own misuse, in its own
    # thread, went unreported.  Each process reports its first, as
    # exceptions are (excrepeats.c).
    result = run_app(WRONG_CALL_ON_BOTH_SIDES_OF_A_FORK.format(forker=forker), tmp_path)
    assert result.returncode == 0, result.describe()
    assert re.search(r"^child \d+ 0$", result.stdout, re.M), result.describe()
    reports = _reports(result.log)
    assert len(reports) == 2, result.describe()
    assert "in thread 'parents-worker'" in reports[0], result.describe()
    assert "(forked child, pid" in reports[1], result.describe()
    assert "in thread 'childs-worker'" in reports[1], result.describe()
