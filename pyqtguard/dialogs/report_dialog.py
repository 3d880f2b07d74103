"""The report preview: what happened in plain words, and the report in an
editable box that is exactly what will be sent.

Used for the "crashed last time" dialog (:func:`offer_last_crash`) and for
the notification's Report... button.  Buttons: Send (to the configured
Sentry-compatible services and callables, on a worker thread), Report
issue... (a prefilled issue page; the report on the clipboard), Copy, Open
log folder, Not now and, for a crash, Never for this crash.  Nothing is sent
before a click.

Example::

    dialog = offer_last_crash()        # None if there is nothing to offer
"""
from __future__ import annotations

from PyQt6.QtCore import QSize, Qt, QThread, QUrl
from PyQt6.QtGui import QDesktopServices, QGuiApplication
from PyQt6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from .. import reporting
from ..reporting import offered

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..reporting.report import Report

EDIT_NOTE = ("This is exactly what will be sent. Your home folder, user name, host name, "
             "e-mail addresses and anything that looks like a password or key have been "
             "masked; you can edit the text to remove anything else.")


# Dialogs shown and not closed yet: a dialog without a parent lives only as
# long as its Python wrapper does.
_open: set[ReportDialog] = set()


class ReportDialog(QDialog):
    """The preview of one report; see the module's description."""

    def __init__(self, report: Report, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = report
        self.setObjectName("pyqtguardReportDialog")
        crash = report.kind == "crash"
        self.setWindowTitle("The app crashed last time" if crash else "Report an error")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        # Not one of the app's main windows: it neither keeps the app running
        # once they are closed nor, closed, ends an app that has none.
        self.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)
        self.resize(_fitting(QSize(720, 520), parent))

        icon = QLabel(self)
        style = self.style()
        if style is not None:
            pixmap = (QStyle.StandardPixmap.SP_MessageBoxCritical if crash
                      else QStyle.StandardPixmap.SP_MessageBoxWarning)
            icon.setPixmap(style.standardIcon(pixmap).pixmap(40, 40))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.summary = QLabel(report.summary, self)
        self.summary.setWordWrap(True)
        # A word longer than the dialog (a hostile 300-character thread
        # name) is cut at its edge, not widening the dialog off the screen.
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        font = self.summary.font()
        font.setBold(True)
        self.summary.setFont(font)
        note = QLabel(EDIT_NOTE, self)
        note.setWordWrap(True)
        text = QVBoxLayout()
        for label in (self.summary, note):
            label.setTextFormat(Qt.TextFormat.PlainText)
            text.addWidget(label)
        head = QHBoxLayout()
        head.addWidget(icon)
        head.addLayout(text, 1)

        self.preview = QPlainTextEdit(self)
        # A traceback reads left to right in a right-to-left app too (set
        # before the text: after it, each line's start was scrolled out of
        # view).  Tab moves on to the buttons: a tab typed into a report is
        # never wanted, and it kept a keyboard user in the box.
        self.preview.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.preview.setTabChangesFocus(True)
        self.preview.setPlainText(report.text)
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.preview.setAccessibleName("Report")
        self.preview.setAccessibleDescription(EDIT_NOTE)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)

        destinations = reporting.settings().destinations
        trackers = [d for d in destinations if d.in_gui_thread]
        # Made in the order they are shown: Tab goes from left to right.
        self.copy = QPushButton("Copy", self)
        self.open_folder = QPushButton("Open folder", self)
        self.never = QPushButton("Never for this crash", self)
        self.never.setVisible(crash)
        self.not_now = QPushButton("Not now", self)
        self.issue = QPushButton(trackers[0].label if trackers else "Report issue...", self)
        self.issue.setVisible(bool(trackers))
        self.send = QPushButton("Send", self)
        self.send.setVisible(bool(reporting.background_destinations()))
        buttons = QHBoxLayout()
        for button in (self.copy, self.open_folder):
            buttons.addWidget(button)
        buttons.addStretch(1)
        for button in (self.never, self.not_now, self.issue, self.send):
            buttons.addWidget(button)
        self.send.setDefault(self.send.isVisibleTo(self))

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

        self._trackers = trackers
        self._waiting = 0
        self._failures: list[str] = []
        self.send.clicked.connect(self.send_now)
        self.issue.clicked.connect(self.open_issue)
        self.copy.clicked.connect(self.copy_text)
        self.open_folder.clicked.connect(self.open_log_folder)
        self.not_now.clicked.connect(self.reject)
        self.never.clicked.connect(self.never_for_this_crash)
        _open.add(self)
        self.finished.connect(lambda _result: _open.discard(self))

    def edited_report(self) -> Report:
        """The report as the preview now says (the user's edits)."""
        return self.report.edited(self.preview.toPlainText())

    def send_now(self) -> None:
        self.send.setEnabled(False)
        self.status.setText("Sending...")
        self._failures = []
        self._waiting = count = reporting.send(self.edited_report(), on_done=self._sent)
        if count == 0:
            self.status.setText("No destination to send to is configured.")

    def _sent(self, ok: bool, why: str) -> None:
        from PyQt6 import sip

        if sip.isdeleted(self):
            return
        self._waiting -= 1
        if not ok:
            self._failures.append(why)
        if self._waiting > 0:
            return
        if self._failures:
            # The sender's reason ("URLError: ...", or what the app's own
            # destination raised), without its "(kept ...)" tail: said below.
            why = self._failures[0].split(" (kept;", 1)[0]
            kept = any("(kept;" in failure for failure in self._failures)
            self.status.setText(
                f"Not sent now: {why}."
                + (" It is kept and will be sent the next time the app starts." if kept
                   else " Try again, or copy the report."))
            self.send.setEnabled(True)
        else:
            self.status.setText("Sent. Thank you!")
            self.not_now.setText("Close")
            self.never.hide()

    def open_issue(self) -> None:
        report = self.edited_report()
        for tracker in self._trackers:
            try:
                tracker.send(report, 0)
                self.status.setText("The issue page is open in your browser; the whole "
                                    "report is on the clipboard to paste there.")
            except OSError as exc:
                self.status.setText(f"Could not open the issue page: {exc}. The report "
                                    "is on the clipboard.")

    def copy_text(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.preview.toPlainText())
            self.status.setText("Copied to the clipboard.")

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(reporting.settings().log_folder))

    def never_for_this_crash(self) -> None:
        # Offered crashes are recorded when shown; this one is also never
        # sent by auto_send (the same record).
        offered.mark_offered(reporting.settings().log_folder, self.report.key)
        self.reject()


def _fitting(size: QSize, parent: QWidget | None) -> QSize:
    """*size*, made smaller to fit the screen of *parent* (else the primary
    screen) with room for the window's frame and a panel: 720x520 is taller
    than a 1366x768 laptop's screen at 150% (910x512)."""
    screen = parent.screen() if parent is not None else QGuiApplication.primaryScreen()
    if screen is None:
        return size
    room = screen.availableGeometry().size()
    return size.boundedTo(QSize(room.width() * 9 // 10, room.height() * 9 // 10))


def offer_last_crash(parent: QWidget | None = None) -> ReportDialog | None:
    """Offer to send the previous run's crash report, once per crash.

    Shows (non-modal) and returns the dialog, or returns None when the
    previous run did not crash or its crash was offered before.  Call it in
    the GUI thread once a QApplication exists (RuntimeError otherwise).

    Example::

        app = QApplication(sys.argv)
        window = MainWindow(); window.show()
        pyqtguard.offer_last_crash(window)
    """
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        raise RuntimeError("offer_last_crash() needs a QApplication: create it first")
    if QThread.currentThread() is not app.thread():
        raise RuntimeError("offer_last_crash() must be called in the GUI thread")
    if parent is not None and not isinstance(parent, QWidget):
        raise TypeError(f"parent must be a QWidget or None, not {type(parent).__name__}")
    from ..crashes.reports import last_crash

    crash = last_crash()
    if crash is None:
        return None
    report = reporting.report_for_crash(crash)
    folder = reporting.settings().log_folder
    if offered.was_offered(folder, report.key):
        return None
    dialog = ReportDialog(report, parent)     # built first: a failure here offers it again
    if not offered.mark_offered(folder, report.key):
        dialog.done(QDialog.DialogCode.Rejected)  # cannot record it: better no offer than one
        return None                               # at every start
    dialog.show()
    return dialog
