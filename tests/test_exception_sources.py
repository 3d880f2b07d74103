"""Every source of an uncaught exception in a PyQt6 app: the app survives,
and each exception is in the run log with its traceback.

Without pyqtguard, PyQt6 calls qFatal() for the Qt ones (exit status -6).
"""
from __future__ import annotations

import re
import signal

import pytest

from apprunner import run_app

QT_APP = """
import sys, threading
{install}
from PyQt6.QtCore import QObject, QRunnable, QThread, QThreadPool, QTimer, pyqtSignal
from PyQt6.QtGui import QPainter
from PyQt6.QtWidgets import QApplication, QWidget

app = QApplication(sys.argv)

{body}

QTimer.singleShot(1500, app.quit)
app.exec()
print("still alive after the event loop", flush=True)
"""

INSTALL = "import pyqtguard; pyqtguard.install()"

SOURCES = {
    "slot": ("""
class Emitter(QObject):
    fired = pyqtSignal()
class Receiver(QObject):
    def on_fired(self):
        raise ValueError("boom in slot")
emitter, receiver = Emitter(), Receiver()
emitter.fired.connect(receiver.on_fired)
QTimer.singleShot(0, emitter.fired.emit)
""", "boom in slot", "on_fired"),
    "lambda": ("""
QTimer.singleShot(0, lambda: {}["missing key in lambda"])
""", "missing key in lambda", "<lambda>"),
    "qrunnable": ("""
class Task(QRunnable):
    def run(self):
        raise RuntimeError("boom in QRunnable.run")
QThreadPool.globalInstance().start(Task())
""", "boom in QRunnable.run", "in run"),
    "qthread": ("""
class Worker(QThread):
    def run(self):
        raise RuntimeError("boom in QThread.run")
worker = Worker()
worker.setObjectName("model-trainer")
worker.start()
""", "boom in QThread.run", "in run"),
    "paintEvent": ("""
class Canvas(QWidget):
    def paintEvent(self, event):
        raise ZeroDivisionError("boom in paintEvent")
canvas = Canvas()
canvas.resize(50, 50)
canvas.show()
QTimer.singleShot(100, canvas.repaint)
""", "boom in paintEvent", "paintEvent"),
    "event": ("""
class Picky(QObject):
    def event(self, ev):
        raise LookupError("boom in event override")
picky = Picky()
QTimer.singleShot(0, lambda: app.sendEvent(picky, __import__("PyQt6.QtCore").QtCore.QEvent(
    __import__("PyQt6.QtCore").QtCore.QEvent.Type.User)))
""", "boom in event override", "in event"),
    "thread": ("""
def work():
    raise OSError("boom in threading.Thread")
threading.Thread(target=work, name="downloader").start()
""", "boom in threading.Thread", "in work"),
    "del": ("""
class Resource:
    def __del__(self):
        raise KeyError("boom in __del__")
QTimer.singleShot(0, lambda: Resource())
""", "boom in __del__", "__del__"),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_exception_is_survived_and_logged(tmp_path, source):
    body, message, frame = SOURCES[source]
    result = run_app(QT_APP.format(install=INSTALL, body=body), tmp_path)
    assert result.returncode == 0, result.describe()
    assert "still alive after the event loop" in result.stdout, result.describe()
    log = result.log
    assert message in log, result.describe()
    assert "Traceback (most recent call last):" in log
    assert frame in log, result.describe()
    assert "pid " in log and "native id " in log
    # The report also reaches stderr, which exists here.
    assert message in result.stderr


def test_qthread_report_names_the_qthread(tmp_path):
    body, _, _ = SOURCES["qthread"]
    result = run_app(QT_APP.format(install=INSTALL, body=body), tmp_path)
    assert "thread 'model-trainer'" in result.log, result.describe()


def test_thread_report_names_the_thread(tmp_path):
    body, _, _ = SOURCES["thread"]
    result = run_app(QT_APP.format(install=INSTALL, body=body), tmp_path)
    assert "thread 'downloader'" in result.log, result.describe()
    assert "[threading.excepthook]" in result.log


def test_without_pyqtguard_pyqt_aborts(tmp_path):
    """The baseline this project exists for: same app, no pyqtguard."""
    body, _, _ = SOURCES["slot"]
    result = run_app(QT_APP.format(install="", body=body), tmp_path)
    assert result.returncode == -signal.SIGABRT, result.describe()
    assert "still alive" not in result.stdout


def test_under_pyqtguard_run_without_import(tmp_path):
    body, message, _ = SOURCES["paintEvent"]
    result = run_app(QT_APP.format(install="", body=body), tmp_path, under_run=True)
    assert result.returncode == 0, result.describe()
    assert "still alive after the event loop" in result.stdout
    assert message in result.log


EMITTED_IN_A_SLOT = """
    import threading
    import pyqtguard
    pyqtguard.install()
    from PyQt6 import QtCore
    app = QtCore.QCoreApplication([])

    class Loader(QtCore.QObject):
        loaded = QtCore.pyqtSignal(object)

    def show(data):
        raise KeyError(data["name"])

    loader = Loader()
    loader.loaded.connect(show)

    def load_file():
        loader.loaded.emit({})                 # the emitter: line 18

    def in_a_thread():
        raise ValueError("not from a slot")

    QtCore.QTimer.singleShot(0, load_file)
    t = threading.Thread(target=in_a_thread, name="plain"); t.start(); t.join()
    QtCore.QTimer.singleShot(100, app.quit)
    app.exec()
"""


def test_a_slots_report_names_the_line_that_emitted_the_signal(tmp_path):
    # Issue 22: a slot's traceback starts at the slot; the Python code that
    # emitted the signal in the same thread follows it, marked as such, in
    # the log and on stderr - taken when the hook ran (the report is
    # written later, when that code has moved on).  pyqtguard's own frames
    # (its exec() wrapper) are left out.
    result = run_app(EMITTED_IN_A_SLOT, tmp_path)
    assert result.returncode == 0, result.describe()
    for text in (result.log, result.stderr):
        slot_report = text[text.index("KeyError: 'name'"):]
        called_from = slot_report[slot_report.index("called by Qt from this Python code"):]
        assert 'line 18, in load_file' in called_from, text
        assert "loader.loaded.emit({})" in called_from, text
        assert "app.exec()" in called_from, text
        assert "pyqtguard" not in called_from.split("\n\n")[0].replace(
            "pyqtguard: this run's log", ""), text
    # Not a slot: a thread's own exception has its traceback only.
    entries = re.split(r"\n(?=\[\d{4}-)", result.log)
    [thread_report] = [e for e in entries if "ValueError: not from a slot" in e]
    assert "called by Qt" not in thread_report, thread_report
