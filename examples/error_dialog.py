"""Show an error dialog for any uncaught exception, from any thread.

``pyqtguard.on_exception`` callbacks run in the GUI thread when a QApplication
exists, so a callback may build widgets even when a worker thread raised.

    python examples/error_dialog.py            # click the buttons
    QT_QPA_PLATFORM=offscreen python examples/error_dialog.py --auto
"""
from __future__ import annotations

import sys
import threading

import pyqtguard

pyqtguard.install()

from PyQt6.QtCore import QTimer  # noqa: E402 - after install on purpose
from PyQt6.QtWidgets import (  # noqa: E402
    QApplication,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


def show_error(record: pyqtguard.ExceptionRecord) -> None:
    """Tell the user, with the details one click away."""
    box = QMessageBox()
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle("Something went wrong")
    box.setText(f"{record.exc_type.__name__}: {record.exc_value}")
    box.setInformativeText(f"In thread {record.thread_name!r}. The app keeps running; "
                           f"the full report is in {pyqtguard.log_path()}.")
    box.setDetailedText(record.traceback_text)
    if "--auto" in sys.argv:
        QTimer.singleShot(300, box.accept)
        print(f"dialog shown for {record.exc_type.__name__} from {record.thread_name}",
              flush=True)
    box.exec()


def main() -> int:
    app = QApplication(sys.argv)
    pyqtguard.on_exception(show_error)
    window = QWidget()
    layout = QVBoxLayout(window)
    in_slot = QPushButton("Raise in a slot")
    in_slot.clicked.connect(lambda: 1 / 0)
    in_thread = QPushButton("Raise in a worker thread")

    def fail_in_thread() -> None:
        raise RuntimeError("the worker failed")

    in_thread.clicked.connect(
        lambda: threading.Thread(target=fail_in_thread, name="worker").start())
    layout.addWidget(in_slot)
    layout.addWidget(in_thread)
    window.show()
    if "--auto" in sys.argv:
        QTimer.singleShot(100, in_slot.click)
        QTimer.singleShot(800, in_thread.click)
        QTimer.singleShot(2000, app.quit)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
