"""Hostile uses of the thread registry: each an app in a subprocess, asserting
what threads() and the reports say about its threads (review s11/h8)."""
from __future__ import annotations

from apprunner import run_app


def test_second_start_of_a_running_thread_keeps_its_start_site(tmp_path):
    # Thread.start() on a thread that runs already raises RuntimeError; the
    # thread's start site and age must not be lost with it.
    result = run_app("""
        import threading
        import pyqtguard
        pyqtguard.install()
        stop = threading.Event()
        t = threading.Thread(target=stop.wait, name="twice")
        t.start()
        try:
            t.start()
        except RuntimeError as exc:
            print("second start:", exc, flush=True)
        for info in pyqtguard.threads():
            if info.name == "twice":
                print("T", info.started_at, info.started is not None, sep="|", flush=True)
        stop.set()
        t.join()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "second start: threads can only be started once" in result.stdout
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("T|")]
    assert len(rows) == 1, result.describe()
    assert rows[0][1].endswith("app.py:7") and rows[0][2] == "True", result.describe()


def test_thread_started_before_install_is_not_listed_once_it_has_ended(tmp_path):
    # install() names the threads already running; one of them that ends
    # afterwards must leave threads() and the shutdown and exit-timeout
    # reports: listing it as alive blames a thread that is gone.
    result = run_app("""
        import threading
        stop = threading.Event()
        early = threading.Thread(target=stop.wait, name="early-bird")
        early.start()
        import pyqtguard
        pyqtguard.install(exit_timeout=1)
        print("during:", [t.name for t in pyqtguard.threads()], flush=True)
        stop.set()
        early.join()
        import time
        from pyqtguard import _native
        give_up = time.monotonic() + 5     # the OS thread outlives join() a moment
        while (early.native_id in {n for n, _ in _native.os_threads()}
               and time.monotonic() < give_up):
            time.sleep(0.01)
        print("after:", [t.name for t in pyqtguard.threads()], flush=True)
        hang = threading.Event()
        threading.Thread(target=hang.wait, name="the-real-hang").start()
    """, tmp_path, timeout=30)
    assert result.returncode == 124, result.describe()
    assert "during: ['MainThread', 'early-bird']" in result.stdout, result.describe()
    assert "after: ['MainThread']" in result.stdout, result.describe()
    assert "the-real-hang" in result.log
    assert "early-bird" not in result.log, result.describe()


def test_qthread_started_by_a_signal_has_the_apps_start_site(tmp_path):
    # button.clicked.connect(thread.start): no Python frame of the app calls
    # start(); the start site is the app's line that runs the event loop, never
    # a file of pyqtguard's own.
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Work(QtCore.QThread):
            def run(self):
                self.msleep(300)
        work = Work()
        work.setObjectName("signalled")
        def show():
            for t in pyqtguard.threads():
                if t.name == "signalled":
                    print("T", t.kind, t.started_at, sep="|", flush=True)
            app.quit()
        timer = QtCore.QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(work.start)
        timer.start(0)
        QtCore.QTimer.singleShot(150, show)
        app.exec()
        work.wait()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("T|")]
    assert len(rows) == 1, result.describe()
    kind, site = rows[0][1], rows[0][2]
    assert kind == "qthread", result.describe()
    assert "pyqtguard" not in site and site.endswith("app.py:21"), result.describe()


def test_an_apps_thread_named_like_pyqtguards_own_is_still_reported(tmp_path):
    # threads() hides pyqtguard's own threads; an app's thread that only
    # looks like one (its name starts with "pyqtguard-") is the app's and
    # must be in threads() and in the exit-timeout report it causes.
    result = run_app("""
        import threading
        import pyqtguard
        pyqtguard.install(exit_timeout=1)
        hang = threading.Event()
        threading.Thread(target=hang.wait, name="pyqtguard-sync").start()
        print("listed:", [t.name for t in pyqtguard.threads()], flush=True)
    """, tmp_path, timeout=30)
    assert result.returncode == 124, result.describe()
    assert "listed: ['MainThread', 'pyqtguard-sync']" in result.stdout, result.describe()
    assert "pyqtguard-sync" in result.log.split("=== pyqtguard exit timeout ===")[-1], \
        result.describe()
