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
