"""Bounded shutdown: apps that hang at exit end within exit_timeout + 2 s,
and the log names the hung thread and the function it is stuck in; apps that
behave exit promptly with no report; lost QThreads no longer abort."""
from __future__ import annotations

import sys
import time

import pytest

from apprunner import run_app

HUNG = 124
EXIT_TIMEOUT = 1.5
TIMEOUT_MARKER = "=== pyqtguard exit timeout ==="


def run_timed(source: str, tmp_path, **kwargs):
    started = time.monotonic()
    result = run_app(source, tmp_path, timeout=30, **kwargs)
    return result, time.monotonic() - started


def exit_report(log: str) -> str:
    assert log.count(TIMEOUT_MARKER) == 1, log
    return log[log.index(TIMEOUT_MARKER):]


# A non-daemon thread nobody stops; started on line 7.
FORGOTTEN_POLLER = f"""
    import re, threading, time
    import pyqtguard
    pyqtguard.install(exit_timeout={EXIT_TIMEOUT})
    def wait_for_server_forever():
        threading.Event().wait()
    threading.Thread(target=wait_for_server_forever, name="poller").start()
"""


def test_forgotten_non_daemon_thread(tmp_path):
    result, elapsed = run_timed(FORGOTTEN_POLLER + """
    print("main done", flush=True)
    """, tmp_path)
    assert result.returncode == HUNG, result.describe()
    assert elapsed < EXIT_TIMEOUT + 2 + 1.5, elapsed  # + interpreter start-up
    report = exit_report(result.log)
    assert "poller" in report and "app.py:7" in report  # name and start site
    assert "in wait_for_server_forever" in report
    assert "ending the process (exit status 124)" in result.log
    assert "shutdown began (the interpreter is exiting)" in result.log


def test_an_exit_report_python_cannot_write_still_names_the_threads_start_sites(tmp_path):
    # A thread holding the GIL (a catastrophic regular expression: minutes
    # in C) keeps Python from answering: the C core writes the report from
    # its thread table.  It named the forgotten thread but not where the app
    # started it - the first thing the Python report says.
    result, elapsed = run_timed(FORGOTTEN_POLLER + """
    def backtrack():
        time.sleep(0.5)
        re.match(r"(a+)+$", "a" * 40 + "b")
    threading.Thread(target=backtrack, name="matcher", daemon=True).start()
    """, tmp_path)
    assert result.returncode == HUNG, result.describe()
    assert elapsed < EXIT_TIMEOUT + 2 + 1.5 + 1.5, elapsed
    report = exit_report(result.log)
    assert "Python did not answer" in report, report
    app = tmp_path / "app.py"
    assert f"  'poller'\n      started at {app}:7\n" in report, report
    assert f"  'matcher'\n      started at {app}:12\n" in report, report
    assert "in wait_for_server_forever" in report, report


def test_executor_task_that_never_returns(tmp_path):
    result, elapsed = run_timed(f"""
        import threading
        from concurrent.futures import ThreadPoolExecutor
        import pyqtguard
        pyqtguard.install(exit_timeout={EXIT_TIMEOUT})
        def sync_forever():
            threading.Event().wait()
        pool = ThreadPoolExecutor(thread_name_prefix="sync")
        pool.submit(sync_forever)
    """, tmp_path)
    assert result.returncode == HUNG, result.describe()
    assert elapsed < EXIT_TIMEOUT + 3.5, elapsed
    report = exit_report(result.log)
    assert "sync_0" in report and "in sync_forever" in report
    assert "app.py:9" in report      # started by pool.submit on line 9


def test_qthreadpool_task_without_stop_flag(tmp_path):
    result, elapsed = run_timed(f"""
        import time
        import pyqtguard
        pyqtguard.install(exit_timeout={EXIT_TIMEOUT})
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Crawl(QtCore.QRunnable):
            def run(self):
                crawl_without_stop_flag()
        def crawl_without_stop_flag():
            while True:
                time.sleep(0.05)
        QtCore.QThreadPool.globalInstance().start(Crawl())
        QtCore.QTimer.singleShot(100, app.quit)
        app.exec()
        QtCore.QThreadPool.globalInstance().waitForDone()   # what Qt does at exit
    """, tmp_path)
    assert result.returncode == HUNG, result.describe()
    assert elapsed < EXIT_TIMEOUT + 3.5, elapsed
    report = exit_report(result.log)
    assert "Thread (pooled)" in report and "in crawl_without_stop_flag" in report
    assert "shutdown began (the Qt event loop ended)" in result.log


def test_stubborn_qthread_busy_through_finalization_does_not_abort(tmp_path):
    # The thread wants the GIL every millisecond, so it does while the
    # interpreter finalizes: CPython 3.11-3.13 end it with pthread_exit(), and
    # its clean-up emits QThread.finished.  With a Python slot connected
    # directly that was a second pthread_exit inside the unwind: C++ called
    # std::terminate and the app aborted ("terminate called without an
    # active exception"), every time.  CPython 3.14 hangs such a thread
    # instead (PyEval_RestoreThread during finalization, "Changed in version
    # 3.14"), so the abort cannot happen there; the rest - the exit, no
    # abort, the thread named in the log - is the same, and is checked on
    # every version (3.14.10, PyQt6 6.11: exit status 0 in 10 of 10 runs).
    result, elapsed = run_timed(f"""
        import time
        import pyqtguard
        pyqtguard.install(exit_timeout={EXIT_TIMEOUT})
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Busy(QtCore.QThread):
            def run(self):
                poll_device_forever()
        def poll_device_forever():
            while True:                # never checks isInterruptionRequested()
                time.sleep(0.001)
        busy = Busy()
        busy.setObjectName("device-poller")
        busy.start()
        QtCore.QTimer.singleShot(100, app.quit)
        app.exec()
        print("exec returned", flush=True)
    """, tmp_path)
    assert result.returncode in (0, HUNG), result.describe()
    assert "terminate called" not in result.stderr
    assert "QThread 'device-poller' (started at" in result.log
    assert "did not stop when asked" in result.log


def test_qthread_kept_by_a_window_is_asked_to_stop(tmp_path):
    result, elapsed = run_timed(f"""
        import time
        import pyqtguard
        pyqtguard.install(exit_timeout={EXIT_TIMEOUT})
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        class Stubborn(QtCore.QThread):
            def run(self):
                render_previews_forever()
        def render_previews_forever():
            while True:                # never checks isInterruptionRequested()
                time.sleep(0.05)
        class Polite(QtCore.QThread):
            def run(self):
                while not self.isInterruptionRequested():
                    time.sleep(0.02)
        window = QtWidgets.QWidget()
        window.previews = Stubborn(window)
        window.previews.setObjectName("preview-renderer")
        window.previews.start()
        window.polite = Polite(window)
        window.polite.setObjectName("polite-worker")
        window.polite.start()
        window.show()
        QtCore.QTimer.singleShot(200, app.quit)
        app.exec()
        print("exec returned", flush=True)
    """, tmp_path)
    # The stubborn thread is reported by name with its function, and the
    # process still ends in time - no "Destroyed while thread is still running".
    assert result.returncode in (0, HUNG), result.describe()
    assert elapsed < EXIT_TIMEOUT + 3.5, elapsed
    assert "Destroyed while thread" not in result.stderr + result.log
    log = result.log
    assert "QThread 'preview-renderer' (started at" in log
    assert "did not stop when asked" in log
    assert "in render_previews_forever" in log
    assert "polite-worker' (started at" not in log   # it stopped when asked


def test_worker_object_stuck_in_started_is_reported_with_its_stack(tmp_path):
    """The worker pattern: the work runs inside QThread.started, before
    pyqtguard's own slot there; the report still shows where it is stuck."""
    result, elapsed = run_timed(f"""
        import time
        import pyqtguard
        pyqtguard.install(exit_timeout={EXIT_TIMEOUT}, freeze_ms=300)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        class Syncer(QtCore.QObject):
            def run(self):
                sync_forever()
        def sync_forever():
            while True:                # no stop flag
                time.sleep(0.05)
        window = QtWidgets.QWidget()
        window.thread_ = QtCore.QThread(window)
        window.thread_.setObjectName("cloud-sync")
        window.syncer = Syncer()
        window.syncer.moveToThread(window.thread_)
        window.thread_.started.connect(window.syncer.run)
        window.thread_.start()
        window.show()
        QtCore.QTimer.singleShot(200, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode in (0, HUNG), result.describe()
    assert elapsed < EXIT_TIMEOUT + 3.5, elapsed
    assert "Destroyed while thread" not in result.stderr + result.log
    assert "QThread 'cloud-sync' (started at /" in result.log
    assert "app.py:19) did not stop when asked" in result.log
    assert "in sync_forever" in result.log
    # Waiting for it at the loop's end (1 s) is no GUI freeze.
    assert "GUI freeze" not in result.log


def test_native_thread_joined_at_exit(tmp_path):
    """A library's native thread (pthread via ctypes, named by the OS) that
    an exit handler joins forever."""
    result, elapsed = run_timed(f"""
        import atexit, ctypes
        import pyqtguard
        pyqtguard.install(exit_timeout={EXIT_TIMEOUT})
        libc = ctypes.CDLL(None)
        thread = ctypes.c_ulong()
        # The thread runs libc's sleep(1000): a native thread Python never sees.
        libc.pthread_create(ctypes.byref(thread), None, libc.sleep, ctypes.c_void_p(1000))
        libc.pthread_setname_np(thread, b"codec-worker")
        def join_codec_worker():
            libc.pthread_join(thread, None)
        atexit.register(join_codec_worker)
    """, tmp_path)
    assert result.returncode == HUNG, result.describe()
    assert elapsed < EXIT_TIMEOUT + 3.5, elapsed
    report = exit_report(result.log)
    assert "codec-worker" in report and "native" in report
    assert "in join_codec_worker" in report


def test_hang_during_interpreter_finalization(tmp_path):
    """A __del__ that blocks while the interpreter tears down its modules:
    Python can no longer report then; the deadline still holds (on Linux a
    timer's signal handler writes the report) and the stack is logged."""
    result, elapsed = run_timed(f"""
        import threading
        import pyqtguard
        pyqtguard.install(exit_timeout={EXIT_TIMEOUT})
        class Connection:
            def __del__(self):
                threading.Event().wait()   # waits for a thread long gone
        connection = Connection()
        print("main done", flush=True)
    """, tmp_path)
    assert result.returncode == HUNG, result.describe()
    assert elapsed < EXIT_TIMEOUT + 3.5, elapsed
    report = exit_report(result.log)
    assert "MainThread" in report
    # 3.11-3.12: read by the C core; 3.13+: by faulthandler, on a signal.
    assert "in __del__" in report
    assert "ending the process (exit status 124)" in result.log


def test_watchdog_thread_is_gone_before_the_process_exits(tmp_path):
    """The watchdog hands the deadline to a timer once the interpreter
    finalizes, so exit_group() has no sleeping thread to kill (~2 ms)."""
    result = run_app("""
        import atexit, os, time
        def count_threads_at_the_very_end():
            # Registered before install(): runs after pyqtguard's hand-off.
            give_up = time.monotonic() + 2
            while len(os.listdir("/proc/self/task")) > 1 and time.monotonic() < give_up:
                time.sleep(0.005)
            print("tasks at the end:", len(os.listdir("/proc/self/task")), flush=True)
        atexit.register(count_threads_at_the_very_end)
        import pyqtguard
        pyqtguard.install(exit_timeout=5)
        from pyqtguard import watchdog as _watchdog
        print("watchdog running:", _watchdog.started(),
              len(os.listdir("/proc/self/task")), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "watchdog running: True 2" in result.stdout
    assert "tasks at the end: 1" in result.stdout


def test_well_behaved_app_exits_promptly_without_report(tmp_path):
    result, elapsed = run_timed("""
        import threading
        import pyqtguard
        pyqtguard.install(exit_timeout=5)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        window = QtWidgets.QWidget()
        window.show()
        done = threading.Thread(target=lambda: None, name="short-task")
        done.start(); done.join()
        QtCore.QTimer.singleShot(100, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert elapsed < 5, elapsed
    assert TIMEOUT_MARKER not in result.log
    assert "no other threads alive" in result.log


def test_lingering_daemon_thread_is_listed_at_exit(tmp_path):
    result = run_app("""
        import threading, time
        import pyqtguard
        pyqtguard.install()
        threading.Thread(target=time.sleep, args=(60,), name="telemetry",
                         daemon=True).start()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    line = next(line for line in result.log.splitlines() if line.startswith("telemetry"))
    assert " yes " in line and "app.py:" in line   # daemon, and where it was started


def test_report_only_when_exit_timeout_is_none(tmp_path):
    result, elapsed = run_timed("""
        import threading, time
        import pyqtguard
        pyqtguard.install(exit_timeout=None)
        threading.Thread(target=time.sleep, args=(1.0,), name="slow-save").start()
    """, tmp_path)
    assert result.returncode == 0, result.describe()   # never ended by pyqtguard
    assert "the process has no limit to end" in result.log
    assert TIMEOUT_MARKER not in result.log


def test_lost_running_qthread_keeps_running(tmp_path):
    result = run_app("""
        import time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        results = []
        class Export(QtCore.QThread):
            def run(self):
                time.sleep(0.3)
                results.append("exported")
        def start_export():
            export = Export()          # the only reference: lost on return
            export.setObjectName("exporter")
            export.start()
        start_export()
        QtCore.QTimer.singleShot(1500, app.quit)
        app.exec()
        print("results:", results, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "results: ['exported']" in result.stdout
    assert "QThread 'exporter' (started at" in result.log
    assert "lost its last Python reference while running" in result.log
    assert "Destroyed while thread" not in result.stderr


def test_exit_timeout_bad_values():
    import pyqtguard

    with pytest.raises(ValueError, match="exit_timeout"):
        pyqtguard.install(exit_timeout=-1)
    with pytest.raises(TypeError, match="exit_timeout"):
        pyqtguard.install(exit_timeout="10")
    with pytest.raises(ValueError, match="freeze_ms"):
        pyqtguard.install(freeze_ms=-5)


def test_unparsable_exit_timeout_env_is_warned_once_and_ignored(tmp_path):
    result = run_app("""
        import pyqtguard
        config = pyqtguard.install()
        print("timeout:", config.exit_timeout, flush=True)
    """, tmp_path, env={"PYQTGUARD_EXIT_TIMEOUT": "ten seconds"})
    assert result.returncode == 0, result.describe()
    assert "timeout: 10.0" in result.stdout
    assert result.stderr.count("PYQTGUARD_EXIT_TIMEOUT") == 1


def test_window_owning_a_running_qthread_deleted_after_exec_does_not_abort(tmp_path):
    # main() returns: its window goes, and Qt deletes the window's running
    # QThread with it - "Destroyed while thread is still running", abort.
    result, elapsed = run_timed(f"""
        import sys, time
        import pyqtguard
        pyqtguard.install(exit_timeout={EXIT_TIMEOUT})
        from PyQt6 import QtCore, QtWidgets
        class Polite(QtCore.QThread):
            def run(self):
                while not self.isInterruptionRequested():
                    time.sleep(0.02)
        class Stubborn(QtCore.QThread):
            def run(self):
                while True:            # never checks isInterruptionRequested()
                    time.sleep(0.05)
        def main():
            app = QtWidgets.QApplication([])
            window = QtWidgets.QWidget()
            polite = Polite(window)
            polite.setObjectName("polite-worker")
            polite.start()
            stubborn = Stubborn(window)
            stubborn.setObjectName("stubborn-worker")
            stubborn.start()
            window.show()
            QtCore.QTimer.singleShot(200, app.quit)
            return app.exec()
        status = main()
        print("main returned", status, flush=True)
        sys.exit(status)
    """, tmp_path)
    assert result.returncode in (0, HUNG), result.describe()
    assert "main returned 0" in result.stdout, result.describe()
    assert "Destroyed while thread" not in result.stderr + result.log
    assert "QThread 'stubborn-worker' (started at" in result.log
    assert "polite-worker' (started at" not in result.log   # it stopped when asked
