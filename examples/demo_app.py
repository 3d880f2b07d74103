"""A small PyQt6 app with every classic fatal bug, each fired on a timer.

Without pyqtguard the first one aborts the app (exit status -6).  Under
pyqtguard it survives all of them, logs each with its traceback, and exits 0.
It also loses a running QThread (Qt would abort: "Destroyed while thread is
still running"; pyqtguard keeps it alive and logs where it was started),
freezes its GUI for 1.3 s in a slot (logged with the blocking function and
the duration) and leaves a daemon thread behind (listed at exit):

    QT_QPA_PLATFORM=offscreen python -m pyqtguard run examples/demo_app.py

(the demo quits itself after a few seconds; drop QT_QPA_PLATFORM to see it).
"""
from __future__ import annotations

import sys
import threading
import time

from PyQt6.QtCore import QObject, QRunnable, QThread, QThreadPool, QTimer, pyqtSignal
from PyQt6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget


class BrokenCanvas(QWidget):
    """A widget whose paintEvent raises once it is broken (PyQt6 would
    qFatal): at the first paint after :meth:`break_it`."""

    broken = False

    def break_it(self) -> None:
        self.broken = True
        self.update()              # the paint, and the bug, come next

    def paintEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        if self.broken:
            self.broken = False
            raise ZeroDivisionError("paintEvent divided by zero")


class Downloader(QObject):
    done = pyqtSignal(str)


class Task(QRunnable):
    def run(self) -> None:
        raise ConnectionError("QRunnable.run lost its connection")


class Trainer(QThread):
    def run(self) -> None:
        raise MemoryError("QThread.run ran out of memory (pretend)")


class Indexer(QThread):
    """A QThread the app forgets while it runs."""

    def run(self) -> None:
        self.msleep(300)


def lose_a_running_qthread() -> None:
    indexer = Indexer()            # the only reference: gone when this returns
    indexer.setObjectName("indexer")
    indexer.start()


def freeze_the_gui() -> None:
    time.sleep(1.3)                # a slot that blocks the event loop


class Resource:
    def __del__(self) -> None:
        raise OSError("__del__ could not release a handle")


def thread_target() -> None:
    raise TimeoutError("a plain threading.Thread timed out")


def _log_path() -> str:
    """": <path>" under pyqtguard (``pyqtguard run`` or ``install()``), else ""."""
    pyqtguard = sys.modules.get("pyqtguard")
    path = pyqtguard.log_path() if pyqtguard is not None else None
    return f": {path}" if path is not None else ""


def main() -> int:
    app = QApplication(sys.argv)
    window = QMainWindow()
    window.setWindowTitle("pyqtguard demo")
    status = QLabel("Firing bugs...")
    canvas = BrokenCanvas()
    canvas.setMinimumSize(100, 60)
    body = QWidget()
    layout = QVBoxLayout(body)
    layout.addWidget(status)
    layout.addWidget(canvas)
    window.setCentralWidget(body)
    window.show()

    downloader = Downloader()

    def on_done(name: str) -> None:
        raise ValueError(f"slot could not parse {name!r}")

    downloader.done.connect(on_done)
    trainer = Trainer()
    trainer.setObjectName("model-trainer")

    bugs = [
        ("slot", lambda: downloader.done.emit("data.csv")),
        ("lambda", lambda: {}["missing"]),
        ("QRunnable.run", lambda: QThreadPool.globalInstance().start(Task())),
        ("QThread.run", trainer.start),
        ("paintEvent", canvas.break_it),
        ("threading.Thread", lambda: threading.Thread(target=thread_target,
                                                      name="uploader").start()),
        ("__del__", Resource),
        ("lost QThread", lose_a_running_qthread),
        ("GUI freeze", freeze_the_gui),
        ("forgotten thread", lambda: threading.Thread(
            target=time.sleep, args=(60,), name="telemetry", daemon=True).start()),
    ]
    for i, (name, fire) in enumerate(bugs):
        def step(name: str = name, fire: object = fire) -> None:
            status.setText(f"fired: {name}")
            print(f"demo: firing a bug in {name}", flush=True)
            fire()  # type: ignore[operator]
        QTimer.singleShot(200 * (i + 1), step)

    def finish() -> None:
        trainer.wait(2000)
        QThreadPool.globalInstance().waitForDone(2000)
        print(f"demo: survived every bug; the tracebacks are in the run log{_log_path()}",
              flush=True)
        app.quit()

    QTimer.singleShot(200 * (len(bugs) + 2), finish)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
