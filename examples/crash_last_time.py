"""Offer "the app crashed last time" on start-up.

A native crash (here a deliberate segfault, as a codec or a driver would
cause) cannot be survived, but it leaves a full report in the run log.  On
the next start, ``pyqtguard.last_crash()`` hands it to the app, which can show
the summary, the details one click away, and offer to send the report.

    python examples/crash_last_time.py          # press "Crash now", then start again
    QT_QPA_PLATFORM=offscreen python examples/crash_last_time.py --auto-crash
    QT_QPA_PLATFORM=offscreen python examples/crash_last_time.py --auto
"""
from __future__ import annotations

import ctypes
import sys

import pyqtguard

pyqtguard.install(app_name="crash-last-time-example")

from PyQt6.QtCore import QTimer  # noqa: E402 - after install on purpose
from PyQt6.QtWidgets import (  # noqa: E402
    QApplication,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

AUTO = "--auto" in sys.argv


def offer_report(crash: pyqtguard.CrashReport) -> None:
    """The dialog: what happened, where, and the whole report on request."""
    box = QMessageBox()
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("The app crashed last time")
    box.setText(f"The last session ended with a crash: {crash.reason}.")
    box.setInformativeText(
        f"In thread {crash.thread_name!r}"
        + (f", at {crash.frame}" if crash.frame else "")
        + "".join(f"\nJust before: {line}" for line in crash.pending_exceptions)
        + ".\nSending the report helps fix it.")
    box.setDetailedText(crash.text)
    send = box.addButton("Send report", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Don't send", QMessageBox.ButtonRole.RejectRole)
    if AUTO:
        QTimer.singleShot(300, send.click)
        print(f"offered report: {crash.reason} in {crash.thread_name!r} ({crash.frame})",
              flush=True)
    box.exec()
    if box.clickedButton() is send:
        # A real app would upload crash.text here (ask first: it holds paths).
        print(f"would send {len(crash.text)} characters from {crash.path}", flush=True)


def decode_broken_frame() -> None:
    """Stands for a native library that crashes."""
    ctypes.string_at(0)


def main() -> int:
    app = QApplication(sys.argv)
    crash = pyqtguard.last_crash()
    window = QWidget()
    layout = QVBoxLayout(window)
    layout.addWidget(QLabel("Press the button: the app segfaults, and offers the "
                            "report when started again."))
    button = QPushButton("Crash now")
    button.clicked.connect(decode_broken_frame)
    layout.addWidget(button)
    window.show()
    if crash is not None:
        QTimer.singleShot(0, lambda: offer_report(crash))
    if "--auto-crash" in sys.argv:
        QTimer.singleShot(200, button.click)
    elif AUTO:
        QTimer.singleShot(1500, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
