"""pyqtguard must not change what a correct PyQt6 app observes: each app
here is correct, and prints or returns what it would without pyqtguard."""
from __future__ import annotations

import pytest

from apprunner import run_app


@pytest.mark.parametrize("when", ["after exec", "in atexit"])
def test_a_worker_qthread_still_serves_the_app_after_exec_returns(tmp_path, when):
    """Saving through the worker thread once the window closed (or in an
    atexit handler), then stopping it: the thread must still run its event
    loop (it hung, and the exit deadline ended the app with 124, nothing
    saved)."""
    result = run_app("""
        import atexit, sys
        import pyqtguard
        pyqtguard.install(exit_timeout=3)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        class Store(QtCore.QObject):
            @QtCore.pyqtSlot()
            def save(self):
                print("saved in the worker thread", flush=True)
        thread = QtCore.QThread()
        store = Store()
        store.moveToThread(thread)
        thread.start()
        def save_and_stop():
            QtCore.QMetaObject.invokeMethod(store, "save",
                                            QtCore.Qt.ConnectionType.BlockingQueuedConnection)
            thread.quit()
            thread.wait()
        if sys.argv[1] == "in atexit":
            atexit.register(save_and_stop)
        window = QtWidgets.QWidget()
        window.show()
        QtCore.QTimer.singleShot(50, window.close)
        status = app.exec()
        if sys.argv[1] == "after exec":
            save_and_stop()
        sys.exit(status)
    """, tmp_path, timeout=30, args=[when])
    assert result.returncode == 0, result.describe()
    assert "saved in the worker thread" in result.stdout


def test_a_qthread_is_not_interrupted_when_exec_returns(tmp_path):
    """The app waits for its export to complete after the loop: nobody asked
    for it to be interrupted."""
    result = run_app("""
        import time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        class Export(QtCore.QThread):
            def run(self):
                for step in range(5):
                    if self.isInterruptionRequested():     # the app's own cancel button
                        print("export cancelled at", step, flush=True)
                        return
                    time.sleep(0.1)
                print("export complete", flush=True)
        export = Export()
        export.start()
        QtCore.QTimer.singleShot(50, app.quit)
        app.exec()
        export.wait()
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "export complete" in result.stdout, result.describe()


def test_exec_twice_keeps_the_worker_thread_for_the_second_loop(tmp_path):
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        class Worker(QtCore.QObject):
            done = QtCore.pyqtSignal(str)
            @QtCore.pyqtSlot(str)
            def work(self, text):
                self.done.emit("worked " + text)
        class Asker(QtCore.QObject):
            ask = QtCore.pyqtSignal(str)
        thread = QtCore.QThread()
        worker = Worker()
        worker.moveToThread(thread)
        thread.start()
        asker = Asker()
        asker.ask.connect(worker.work)
        worker.done.connect(lambda text: (print(text, flush=True), app.quit()))
        QtCore.QTimer.singleShot(10, lambda: asker.ask.emit("first"))
        app.exec()
        QtCore.QTimer.singleShot(10, lambda: asker.ask.emit("second"))
        QtCore.QTimer.singleShot(3000, lambda: (print("no answer", flush=True), app.quit()))
        app.exec()
        print("running:", thread.isRunning(), flush=True)
        thread.quit()
        thread.wait()
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert result.stdout.split() == "worked first worked second running: True".split(), \
        result.describe()


def test_spawning_a_child_leaves_the_apps_own_environment_alone(tmp_path):
    """The guard of spawn children names its report file to them, not in the
    app's own os.environ (which every subprocess of the app inherits)."""
    result = run_app("""
        import multiprocessing, os, subprocess, sys
        import pyqtguard
        pyqtguard.install()
        def child(queue):
            queue.put(os.getpid())
        if __name__ == "__main__":
            before = dict(os.environ)
            context = multiprocessing.get_context("spawn")
            queue = context.Queue()
            process = context.Process(target=child, args=(queue,))
            process.start()
            queue.get(timeout=20)
            process.join()
            print("exit code", process.exitcode, flush=True)
            print("environment changed:", sorted(set(os.environ.items()) ^ set(before.items())),
                  flush=True)
    """, tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "exit code 0" in result.stdout
    assert "environment changed: []" in result.stdout, result.describe()


def test_qthread_start_takes_its_priority_by_keyword(tmp_path):
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Thumbnails(QtCore.QThread):
            def run(self):
                print("priority", self.priority().name, flush=True)
        thread = Thumbnails()
        thread.start(priority=QtCore.QThread.Priority.LowPriority)
        thread.wait()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "priority LowPriority" in result.stdout, result.describe()


def test_a_started_qthread_gets_no_attribute_of_pyqtguard(tmp_path):
    """The app's QThread subclass sees only its own attributes (its
    __setattr__, vars(), serialisation)."""
    result = run_app("""
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        class Job(QtCore.QThread):
            def __init__(self):
                super().__init__()
                self.path = "a.txt"
            def __setattr__(self, name, value):
                print("set", name, flush=True)
                super().__setattr__(name, value)
            def run(self):
                pass
        job = Job()
        for _ in range(2):
            job.start()
            job.wait()
        print("attributes", sorted(vars(job)), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.stdout.splitlines() == ["set path", "attributes ['path']"], result.describe()



def test_uninstall_leaves_a_wrapper_another_tool_put_over_pyqtguards(tmp_path):
    # A tool that wrapped QApplication.exec and threading._shutdown after
    # install() keeps its wrappers through uninstall(); pyqtguard's, left
    # inside them, then do nothing but call on.
    result = run_app("""
        import threading
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        calls = []
        inner_exec = QtWidgets.QApplication.exec
        def tool_exec():
            calls.append("tool exec")
            return inner_exec()
        QtWidgets.QApplication.exec = staticmethod(tool_exec)
        inner_shutdown = threading._shutdown
        def tool_shutdown():
            print("tool shutdown", flush=True)
            inner_shutdown()
        threading._shutdown = tool_shutdown
        pyqtguard.uninstall()
        print("exec kept:", QtWidgets.QApplication.exec is tool_exec, flush=True)
        print("shutdown kept:", threading._shutdown is tool_shutdown, flush=True)
        app = QtWidgets.QApplication([])
        QtCore.QTimer.singleShot(0, app.quit)
        print("exec returned", app.exec(), calls, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "exec kept: True" in result.stdout and "shutdown kept: True" in result.stdout, \
        result.describe()
    assert "exec returned 0 ['tool exec']" in result.stdout, result.describe()
    assert "tool shutdown" in result.stdout, result.describe()
    assert "shutdown began" not in result.log.split("uninstalled")[-1], result.log
