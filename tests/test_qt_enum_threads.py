"""pyqtguard's own code builds no PyQt6 enum class outside the GUI thread.

PyQt6 (sip) builds an enum class the first time it is read, and two threads
reading it at once each build one; Qt then refuses the loser's members
("setLineWrapMode(...): argument 1 has unexpected type 'LineWrapMode'").
Reading one builds every enum of its class and of the classes it derives
from (all of Qt's namespace at once).  A read of pyqtguard's in a thread of
its own, or in a thread of the app's where the app reads none, could so make
the app's own first use of an enum on the GUI thread raise.

The apps here watch every enum class built (a profile function on
``enum``'s metaclass, which sip calls) and name pyqtguard's line that read
one outside the main thread.
"""
from __future__ import annotations

from apprunner import run_app

WATCH_ENUMS = """
    import enum, os, sys, threading
    import pyqtguard
    _ours = os.path.dirname(pyqtguard.__file__)
    built_off_gui = []

    def watch(frame, event, arg):
        if (event != "call" or frame.f_code.co_name != "__new__"
                or frame.f_code.co_filename != enum.__file__
                or "classdict" not in frame.f_locals
                or threading.current_thread() is threading.main_thread()):
            return
        if not str(frame.f_locals["classdict"].get("__module__")).startswith("PyQt6"):
            return
        reader = frame            # the frame whose attribute read built it
        while reader is not None and reader.f_code.co_filename == enum.__file__:
            reader = reader.f_back
        if reader is not None and reader.f_code.co_filename.startswith(_ours):
            where = f"{os.path.basename(reader.f_code.co_filename)}:{reader.f_lineno}"
            built_off_gui.append((threading.current_thread().name, frame.f_locals.get("cls"), where))

    sys.setprofile(watch)
    threading.setprofile(watch)

    def report_enums():
        sys.setprofile(None)
        threading.setprofile(None)
        print("built by pyqtguard off the GUI thread:", built_off_gui)
"""


def test_workers_qthreads_and_errors_build_no_enum_off_the_gui_thread(tmp_path):
    # The app reads no enum outside its GUI thread; every thread pyqtguard
    # runs code in is exercised: its workers (events, errors, cancellation),
    # a QThread started and one raising in run(), a QRunnable raising, a
    # plain thread raising, a GUI freeze report, a Qt warning from a thread,
    # the wrong-thread check and the dialogs.
    result = run_app(WATCH_ENUMS + """
    import time
    pyqtguard.install(dialogs=True, check_threads=True, freeze_ms=200, stderr=False)
    from PyQt6.QtCore import QThread, QThreadPool, QRunnable, QTimer, qWarning
    from PyQt6.QtWidgets import QApplication, QLabel
    from pyqtguard import workers
    app = QApplication(sys.argv)
    label = QLabel("x")

    def task():
        for n in range(3):
            yield n
        return "done"

    def failing_task():
        raise ValueError("a worker's error")

    class Raising(QThread):
        def run(self):
            qWarning("a Qt warning from a QThread")
            raise RuntimeError("in QThread.run")

    class Runnable(QRunnable):
        def run(self):
            raise OSError("in QRunnable.run")

    class Sleeper(QThread):
        def run(self):
            self.msleep(50)

    def plain_thread():
        label.text()                 # a widget read off the GUI thread (check_threads)
        raise KeyError("in a plain thread")

    def start():
        global w1, w2, t1, t2
        w1 = workers.Worker(task)
        w1.yielded.connect(lambda v: None)
        w1.start()
        w2 = workers.Worker(failing_task)
        w2.start()
        t1 = Raising(); t1.start()
        t2 = Sleeper(); t2.start()
        QThreadPool.globalInstance().start(Runnable())
        threading.Thread(target=plain_thread, name="app-thread").start()
        QTimer.singleShot(300, freeze)

    def freeze():
        time.sleep(0.6)              # a GUI freeze the watchdog reports
        QTimer.singleShot(800, done)

    def done():
        t1.wait(5000); t2.wait(5000)
        QThreadPool.globalInstance().waitForDone(5000)
        report_enums()
        app.quit()

    QTimer.singleShot(0, start)
    app.exec()
    """, tmp_path)
    assert "built by pyqtguard off the GUI thread: []" in result.stdout, result.describe()
    assert "in QThread.run" in result.log and "a worker's error" in result.log, result.describe()
    assert "froze" in result.log.lower() or "freeze" in result.log.lower(), result.describe()
