"""pyqtguard never imports threading while the app has not (its import and
teardown cost a small app ~2% of its start-up and exit): what it does to
threading goes in when the app imports it, and nothing pyqtguard runs in
another thread imports it there (threading takes the importing thread for
the main one).  Real apps in subprocesses, with and without threading."""
from __future__ import annotations

import os
import site
import sys
from pathlib import Path

import PyQt6

from apprunner import REPO
from apprunner import run_app as _run_app


def run_app(source: str, tmp_path: Path, **kwargs: object):
    """run_app without the site module's .pth files (``python -S``), which
    import threading on some machines (this one's sandbox certificates do),
    and with pyqtguard and the site-packages on the path instead."""
    paths = [str(REPO), *site.getsitepackages(),
             os.path.dirname(os.path.dirname(PyQt6.__file__))]
    return _run_app(source, tmp_path, python_args=["-S"],
                    env={"PYTHONPATH": os.pathsep.join(paths)}, **kwargs)

# The app's own first line: the test means nothing if something (a
# sitecustomize, a coverage hook) imported threading before the app.
NOT_YET = """
        import sys
        assert "threading" not in sys.modules, "threading was imported before the app"
"""


# The app's last lines: threading still not imported, and once the app
# imports it, it knows the main thread as the main one.
STILL_NOT_IMPORTED = """
        print("threading imported by then:", "threading" in sys.modules, flush=True)
        import _thread, threading
        print("main is main:", threading.main_thread().ident == _thread.get_ident(), flush=True)
"""


def assert_main_stayed_main(result) -> None:
    assert result.returncode == 0, result.describe()
    assert "threading imported by then: False" in result.stdout, result.describe()
    assert "main is main: True" in result.stdout, result.describe()


def test_a_qt_app_without_threading_never_gets_it(tmp_path):
    result = run_app(NOT_YET + """
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        label = QtWidgets.QLabel("hello")
        label.show()
        QtCore.QTimer.singleShot(0, app.quit)
        app.exec()
        print("threading imported:", "threading" in sys.modules, flush=True)
        print([(t.name, t.kind) for t in pyqtguard.threads()], flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "threading imported: False" in result.stdout, result.describe()
    assert "[('MainThread', 'main')]" in result.stdout, result.describe()
    assert "shutdown began (the Qt event loop ended)" in result.log


def test_threading_imported_after_install_gets_every_hook(tmp_path):
    result = run_app(NOT_YET + """
        import pyqtguard
        pyqtguard.install()
        from pyqtguard import _native
        import threading
        print("hook ours:", threading.excepthook is _native.threading_excepthook, flush=True)
        def work():
            raise ValueError("from a thread started after threading's import")
        t = threading.Thread(target=work, name="late-worker")
        t.start()
        t.join()
        def lingering():
            import time
            time.sleep(0.3)
        threading.Thread(target=lingering, name="still-here").start()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "hook ours: True" in result.stdout, result.describe()
    log = result.log
    assert "ValueError: from a thread started after threading's import" in log, log
    assert "late-worker" in log, log
    # threading._shutdown was wrapped when threading came: shutdown began
    # there, with the lingering thread listed under its name and start site.
    assert "shutdown began (the interpreter is exiting)" in log, log
    assert "still-here" in log and "app.py:" in log.split("shutdown began")[1], log


def test_uninstall_before_threading_is_imported_leaves_it_alone(tmp_path):
    result = run_app(NOT_YET + """
        import pyqtguard
        pyqtguard.install()
        pyqtguard.uninstall()
        import threading
        print("hook default:", threading.excepthook is threading.__excepthook__, flush=True)
        print("start original:", threading.Thread.start.__module__ == "threading", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "hook default: True" in result.stdout, result.describe()
    assert "start original: True" in result.stdout, result.describe()


def test_a_qthreads_exception_does_not_import_threading_in_that_thread(tmp_path):
    # The first report is made in the QThread; had pyqtguard imported
    # threading (or logging) there, threading would take the QThread for
    # the main thread, and its exit code would then misbehave.
    result = run_app(NOT_YET + """
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Failing(QtCore.QThread):
            def run(self):
                raise RuntimeError("in a QThread, before threading")
        thread = Failing()
        thread.finished.connect(app.quit)
        thread.start()
        app.exec()
        thread.wait()
    """ + STILL_NOT_IMPORTED, tmp_path)
    assert_main_stayed_main(result)
    assert "RuntimeError: in a QThread, before threading" in result.log


def test_a_freeze_report_does_not_import_threading_in_the_helper(tmp_path):
    result = run_app(NOT_YET + """
        import time
        import pyqtguard
        pyqtguard.install(freeze_ms=200)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        def block():
            time.sleep(0.8)
        QtCore.QTimer.singleShot(0, block)
        QtCore.QTimer.singleShot(1000, app.quit)
        app.exec()
    """ + STILL_NOT_IMPORTED, tmp_path)
    assert_main_stayed_main(result)
    assert "GUI freeze" in result.log and "in block" in result.log, result.describe()


def test_without_threading_or_a_loop_the_exit_is_still_bounded(tmp_path):
    # An exit handler registered before install() runs after pyqtguard's,
    # which begins the shutdown when nothing else did: a hang there ends
    # at the deadline (status 124) instead of for ever.
    result = run_app(NOT_YET + """
        import atexit, time
        atexit.register(lambda: time.sleep(60))
        import pyqtguard
        pyqtguard.install(exit_timeout=1)
        print("threading imported:", "threading" in sys.modules, flush=True)
    """, tmp_path, timeout=30)
    assert result.returncode == 124, result.describe()
    assert "threading imported: False" in result.stdout, result.describe()
    assert "shutdown began (the interpreter is exiting)" in result.log, result.describe()


def test_without_threading_an_exit_handler_registered_after_install_is_bounded(tmp_path):
    # The usual order: install() first, then the app and the libraries it
    # imports register their exit handlers - which run before pyqtguard's.
    result = run_app(NOT_YET + """
        import pyqtguard
        pyqtguard.install(exit_timeout=1)
        import atexit, time
        @atexit.register
        def flush_forever():
            time.sleep(60)
        atexit.register(print, "threading imported:", "threading" in sys.modules,
                        flush=True)
    """, tmp_path, timeout=30)
    assert result.returncode == 124, result.describe()
    assert "threading imported: False" in result.stdout, result.describe()
    assert "shutdown began (the interpreter is exiting)" in result.log, result.describe()
    assert "in flush_forever" in result.log, result.describe()
