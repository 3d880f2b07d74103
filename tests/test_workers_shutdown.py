"""Closing windows with many running workers, for real, in a subprocess."""
from __future__ import annotations

from apprunner import run_app


def test_close_a_window_with_200_workers_50_times(tmp_path):
    result = run_app("""
        import threading, time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        from pyqtguard import workers
        app = QtWidgets.QApplication([])
        errors = []
        pyqtguard.on_exception(lambda record: errors.append(record))
        def crunch(n, state):
            total = 0
            while not state.cancelled:
                total += n
                time.sleep(0.001)
            return total
        class Window(workers.ShutdownOnClose, QtWidgets.QWidget):
            shutdown_timeout = 5.0
            def __init__(self):
                super().__init__()
                self.label = QtWidgets.QLabel(self)
                self.workers = []
                for n in range(200):
                    worker = workers.Worker(crunch, n)
                    worker.returned.connect(self.label.setNum)   # into a widget that dies
                    worker.progress.connect(lambda v: self.label.setNum(v))
                    self.workers.append(worker.start())
        for round_ in range(50):
            window = Window()
            window.show()
            app.processEvents()
            window.close()
            window.deleteLater()
            app.processEvents()
            workers._worker._shutdown_began = False    # the next round's window
        app.processEvents()
        QtCore.QThreadPool.globalInstance().waitForDone(5000)
        print("active:", len(workers.active_workers()), "errors:", len(errors),
              "threads:", threading.active_count(), flush=True)
    """, tmp_path, timeout=240)
    assert result.returncode == 0, result.describe()
    assert "active: 0 errors: 0 threads: 1" in result.stdout, result.describe()
    assert "did not stop" not in result.log


def test_app_quit_leads_through_shutdown(tmp_path):
    result = run_app("""
        import threading, time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        from pyqtguard import workers
        app = QtWidgets.QApplication([])
        def never_checks():
            time.sleep(60)
        workers.Worker(never_checks, name="slow-sync").start()
        QtCore.QTimer.singleShot(100, app.quit)
        started = time.monotonic()
        app.exec()
        print("exec took", round(time.monotonic() - started, 1), flush=True)
    """, tmp_path, env={"PYQTGUARD_EXIT_TIMEOUT": "8"}, timeout=60)
    # The worker ignores cancellation: reported by name; the process is then
    # ended by the exit watchdog (status 124) or exits - never hangs.
    assert result.returncode in (0, 124), result.describe()
    assert "worker 'slow-sync' (running)" in result.log
    assert "in never_checks" in result.log


def test_a_worker_before_the_qapplication_is_a_clear_error(tmp_path):
    result = run_app("""
        from PyQt6 import QtCore
        from pyqtguard import workers
        try:
            workers.Worker(print)
        except RuntimeError as exc:
            print("error:", exc, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "error: pyqtguard workers need a QApplication" in result.stdout


def test_the_apps_own_about_to_quit_runs_once_while_workers_stop(tmp_path):
    # Qt sets "aboutToQuit was emitted" only after the signal returns, and the
    # closed last window has posted a Quit event: events processed while
    # pyqtguard waits for workers inside aboutToQuit used to deliver that
    # event and emit aboutToQuit a second time (the app's own slot, e.g. one
    # that saves settings, ran twice).
    result = run_app("""
        import time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        from pyqtguard import workers
        app = QtWidgets.QApplication([])
        window = QtWidgets.QWidget()
        window.show()
        app.aboutToQuit.connect(lambda: print("aboutToQuit", flush=True))
        def poll(state):
            while not state.cancelled:
                time.sleep(0.02)
            time.sleep(0.1)                    # events are processed meanwhile
        workers.run_in_worker(poll)
        QtCore.QTimer.singleShot(200, app.quit)
        print("exec returned", app.exec(), flush=True)
        print("active:", len(workers.active_workers()), flush=True)
    """, tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert result.stdout.count("aboutToQuit") == 1, result.describe()
    assert "exec returned 0" in result.stdout and "active: 0" in result.stdout, result.describe()


def test_a_quit_asked_for_while_shutdown_waits_happens_after_it(tmp_path):
    # The held-back Quit is posted again once the workers are stopped: the
    # app still quits, and after shutdown() returned, not inside it.
    result = run_app("""
        import time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        from pyqtguard import workers
        app = QtWidgets.QApplication([])
        app.aboutToQuit.connect(lambda: print("aboutToQuit", flush=True))
        def poll(state):
            while not state.cancelled:
                time.sleep(0.02)
            time.sleep(0.3)
        workers.run_in_worker(poll)
        def stop_all():
            QtCore.QTimer.singleShot(50, app.quit)   # runs while shutdown waits
            print("stopped:", workers.shutdown(timeout=5), flush=True)
        QtCore.QTimer.singleShot(100, stop_all)
        QtCore.QTimer.singleShot(10000, lambda: app.exit(7))
        print("exec returned", app.exec(), flush=True)
    """, tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert result.stdout == "stopped: []\naboutToQuit\nexec returned 0\n", result.describe()
