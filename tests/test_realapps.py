"""Realistic apps (session 13): what a user reads after running them.

Each app is a small but whole program of the kind the README names (a
process pool of workers, a QThreadPool downloader, threads left behind),
run in a subprocess; the tests assert on what the user would read: exit
status, stderr, the run log and ``pyqtguard logs``.
"""
from __future__ import annotations

import subprocess
import sys

from apprunner import child_env, run_app

FORK_POOL_APP = """
    import ctypes, multiprocessing as mp, os, sys, threading
    import pyqtguard
    pyqtguard.install()                    # first thing, as the README says
    METHOD = os.environ.get("APP_METHOD", "fork")
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication, QLabel

    def thumbnail(name):
        if name == "corrupt.png":
            ctypes.string_at(0)            # the decoder crashes in native code
        return name

    def run_batch():
        warm_up = mp.get_context("fork").Process(target=print, args=("warmed up",))
        warm_up.start()
        warm_up.join()
        with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context(METHOD)) as ex:
            for future in [ex.submit(thumbnail, n) for n in ("a.png", "corrupt.png")]:
                try:
                    print("result", future.result(timeout=30), flush=True)
                except BrokenProcessPool:
                    print("pool broken", flush=True)
        app.quit()

    if __name__ == "__main__":
        app = QApplication(sys.argv)
        label = QLabel("batch")
        label.show()
        QTimer.singleShot(50, run_batch)
        print("exec returned", app.exec(), flush=True)
"""


def logs_lines(result) -> str:
    proc = subprocess.run([sys.executable, "-m", "pyqtguard", "logs", "--log-dir",
                           str(result.log_dir)], capture_output=True, text=True,
                          env=child_env(result.log_dir), timeout=60)
    return proc.stdout


def assert_crash_names_the_main_thread(log: str) -> None:
    assert "=== pyqtguard crash report ===" in log, log
    report = log[log.index("=== pyqtguard crash report ==="):]
    header = report[:report.index("\n\n")]
    assert "thread: 'MainThread'" in header, header
    legend = report[report.index("Threads (ident"):]
    legend = legend[:legend.index("\n\n")]
    assert legend.count("\n") == 1 and "main  'MainThread'" in legend, legend
    # Before the stacks (ours on 3.11-3.12, faulthandler's on 3.13+).
    assert "'python'" not in report[:report.index("\nPython stacks of all threads")], report


def test_a_forkserver_workers_crash_names_its_main_thread(tmp_path):
    """A forkserver worker is forked from the forkserver and runs the main
    module's install() again: on 3.11 threading keeps the forkserver's
    native id for the main thread after a fork, and the crash report named
    the worker's thread 'python' beside a 'MainThread' that was not there."""
    result = run_app(FORK_POOL_APP, tmp_path, env={"APP_METHOD": "forkserver"})
    assert result.returncode == 0, result.describe()
    assert "pool broken" in result.stdout and "exec returned 0" in result.stdout
    crashed = [path.read_text() for path in result.logs
               if "=== pyqtguard crash report ===" in path.read_text()]
    assert len(crashed) == 1, result.describe()
    assert_crash_names_the_main_thread(crashed[0])


def test_a_fork_workers_crash_is_its_own_not_the_apps(tmp_path):
    """A fork child shares the app's run log: its crash report names its
    own main thread (not 'python', not the parent's threads), and the app,
    which went on and exited 0, is not listed as crashed."""
    result = run_app(FORK_POOL_APP, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "pool broken" in result.stdout and "exec returned 0" in result.stdout
    log = result.log
    assert_crash_names_the_main_thread(log)
    summary = logs_lines(result)
    assert "crashed" not in summary.split("forked child")[0], summary
    assert "clean" in summary and "forked child" in summary and "SIGSEGV" in summary, summary
    # At the next start the app is not told it crashed last time.
    again = run_app("""
        import pyqtguard
        pyqtguard.install()
        print("last crash:", pyqtguard.last_crash())
    """, tmp_path)
    assert "last crash: None" in again.stdout, again.describe()
    # The workers' exits, written to the same log, say whose they are.
    shutdown_lines = [line for line in log.splitlines() if "shutdown began" in line]
    assert len([line for line in shutdown_lines if "forked child" not in line]) == 1, log


NO_MAIN_GUARD_APP = """
    import multiprocessing as mp, sys
    from concurrent.futures import ProcessPoolExecutor
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication, QLabel

    def square(x):
        return x * x

    def run_batch():
        with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn")) as ex:
            print("results", list(ex.map(square, range(5), timeout=20)), flush=True)
        app.quit()

    app = QApplication(sys.argv)           # no main guard: every child builds one
    label = QLabel("batch")
    label.show()
    QTimer.singleShot(50, run_batch)
    sys.exit(app.exec())
"""


def test_logs_says_a_child_refused_rather_than_ended_unrecorded(tmp_path):
    result = run_app(NO_MAIN_GUARD_APP, tmp_path, under_run=True, kill_group=True)
    assert result.returncode == 3, result.describe()
    assert "app.py:15 builds a QApplication" in result.stderr, result.stderr
    summary = logs_lines(result)
    assert "child refused to start (3)" in summary, summary
    assert "ended unrecorded" not in summary, summary


def test_a_child_refusal_is_told_first_not_the_broken_pool_it_caused(tmp_path):
    """The refusing child ends at once; the app's pool sees it die before
    the watcher reads the child's message.  The BrokenProcessPool the app
    then raises is pyqtguard's doing: the message comes instead of it."""
    result = run_app(NO_MAIN_GUARD_APP, tmp_path, under_run=True, kill_group=True)
    assert result.returncode == 3, result.describe()
    assert "app.py:15 builds a QApplication" in result.stderr, result.stderr
    assert "BrokenProcessPool" not in result.stderr, result.stderr
    assert "BrokenProcessPool" not in result.log, result.log


FOLDER_WATCHER_APP = """
    import sys, threading, time
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication, QPushButton

    def watch_folder():
        while True:                        # forgotten: no stop flag, not a daemon
            time.sleep(0.05)

    def export():
        time.sleep(1.5)                    # blocking I/O on the GUI thread
        raise OSError("disk full")

    def main():
        app = QApplication(sys.argv)
        button = QPushButton("Export")
        button.clicked.connect(export)
        button.show()
        threading.Thread(target=watch_folder, name="folder-watcher").start()
        QTimer.singleShot(50, button.click)
        QTimer.singleShot(1800, app.quit)
        return app.exec()

    if __name__ == "__main__":
        sys.exit(main())
"""


def test_stacks_show_the_apps_frames_not_pyqtguards(tmp_path):
    """The freeze, the slot's callers and the exit timeout's stacks show
    what python shows: not the frames of `pyqtguard run`'s launcher, its
    exec() wrapper, its thread-start or threading._shutdown wrappers."""
    result = run_app(FOLDER_WATCHER_APP, tmp_path, under_run=True,
                     env={"PYQTGUARD_EXIT_TIMEOUT": "1"})
    assert result.returncode == 124, result.describe()
    log = result.log

    def entry(start: str) -> str:
        """The log entry that starts with *start*, up to the next one."""
        begin = log.index(start)
        end = log.find("\n[20", begin)
        return log[begin:end if end > 0 else len(log)]

    freeze = entry("GUI freeze:")
    assert "in export" in freeze and "in main" in freeze, freeze
    exception = entry("pyqtguard: uncaught exception")
    assert "OSError: disk full" in exception and "in main" in exception, exception
    timeout = log[log.index("=== pyqtguard exit timeout ==="):]
    assert "in watch_folder" in timeout and "threading.py" in timeout, timeout
    # ... and says in words why the process is still there.
    assert ("MainThread is waiting for the non-daemon thread 'folder-watcher' "
            "to end") in timeout, timeout
    for text in (freeze, exception, timeout):
        assert "pyqtguard" + "/" not in text.replace("pyqtguard exit timeout", ""), text
        assert "runpy" not in text, text


def test_a_spawn_workers_own_log_says_whose_worker_it_is(tmp_path):
    """With install() at the top of the app, each spawn worker installs
    pyqtguard too and writes a log of its own: `pyqtguard logs` says it is a
    worker of the app's pid, rather than listing it as another run."""
    result = run_app(FORK_POOL_APP, tmp_path, env={"APP_METHOD": "spawn"})
    assert result.returncode == 0, result.describe()
    app_pid = min(int(line.split()[4]) for line in logs_lines(result).splitlines())
    lines = logs_lines(result).splitlines()
    apps = [line for line in lines if "worker of pid" not in line]
    workers = [line for line in lines if "worker of pid" in line]
    assert len(apps) == 1 and "clean" in apps[0], lines
    app_pid = int(apps[0].split()[4])
    assert workers and all(f"worker of pid {app_pid}: " in line for line in workers), lines
    assert any(f"worker of pid {app_pid}: crashed (SIGSEGV" in line for line in workers), lines


SPAWN_THEN_CRASH_APP = """
    import ctypes, multiprocessing as mp, sys
    import pyqtguard
    pyqtguard.install()                    # runs again in every spawn worker
    from concurrent.futures import ProcessPoolExecutor

    def square(x):
        return x * x

    if __name__ == "__main__":
        with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn")) as ex:
            print(list(ex.map(square, range(4))), flush=True)
        ctypes.string_at(0)                # then the app itself crashes
"""


def test_last_crash_reads_the_apps_log_not_its_workers(tmp_path):
    """The workers' logs are newer than the app's: last_crash() at the next
    start must still find the app's crash."""
    result = run_app(SPAWN_THEN_CRASH_APP, tmp_path)
    assert result.returncode == -11, result.describe()
    assert len(result.logs) >= 2, result.describe()
    again = run_app("""
        import pyqtguard
        pyqtguard.install()
        crash = pyqtguard.last_crash()
        print("last crash:", crash and (crash.reason, crash.frame))
    """, tmp_path)
    assert "last crash: ('SIGSEGV" in again.stdout, again.describe()
    assert "app.py" in again.stdout, again.describe()
