"""The error notification: a small non-modal window for exceptions the app
survived.

- It never takes the keyboard focus (``WindowDoesNotAcceptFocus``, shown
  without activation): the user keeps typing where they were.
- One at a time: exceptions that arrive while it is shown fold into it
  ("and 999 more"), counted per error; nothing re-enters.
- Summary in plain words; the whole scrubbed report under "Details";
  buttons Copy details, Open log folder, Report... (when a destination is
  configured) and Dismiss; "Don't show this error again in this session".
- GUI thread only: :func:`notify` called from another thread posts itself
  there.  Works without a main window (a top-level tool window).

Example::

    pyqtguard.on_exception(notify)      # what install(dialogs=True) does
"""
from __future__ import annotations

from PyQt6.QtCore import QEvent, QObject, QPoint, QRect, Qt, QThread, QTimer, QUrl
from PyQt6.QtGui import QDesktopServices, QGuiApplication
from PyQt6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from .. import _native, reporting
from ..qt import guithread

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..exceptions.delivery import ExceptionRecord
    from ..reporting.report import Report

_MAX_KINDS = 50          # distinct errors listed in one notification
_MARGIN = 16
_REFRESH_MS = 100     # a visible notification's count is updated this often


def _is_gui_thread() -> bool:
    app = QApplication.instance()
    return app is not None and QThread.currentThread() is app.thread()


def _title(record: ExceptionRecord) -> str:
    message = str(record.exc_value) if record.exc_value is not None else ""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return f"{record.exc_type.__name__}: {first}"[:200] if first else record.exc_type.__name__


def window_flags() -> Qt.WindowType:
    """The notification's window flags (a tool window on top that takes no
    focus).  Combining PyQt6 flags builds enum members the first time
    (tens of ms): :func:`warm_up` does it off the GUI thread."""
    return (Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowDoesNotAcceptFocus | Qt.WindowType.WindowStaysOnTopHint)


def warm_up() -> None:
    """Pay the first-use costs of the pure-Python parts (imports, regular
    expressions) now, in any thread, so that the first notification does not
    block the GUI thread for them.  Called from a worker thread when the
    event loop starts (see :mod:`pyqtguard.dialogs`).

    Qt's enums are not touched here: PyQt6 builds an enum class the first
    time it is read, and two threads reading it at once each build one; the
    loser's members are then refused by Qt ("setLineWrapMode(...): argument
    1 has unexpected type 'LineWrapMode'").  Read here, they made the app's
    own first use of them on the GUI thread fail now and then.
    :func:`warm_up_enums` reads them in the GUI thread."""
    import hashlib  # noqa: F401 - imported for its first-use cost
    import sysconfig

    from ..reporting import report, scrub, textparse  # noqa: F401
    from . import report_dialog  # noqa: F401

    sysconfig.get_paths()
    reporting.scrubber()


# What the notification reads first, one step per turn of the event loop:
# reading one enum builds every enum of its class and of the classes it
# derives from (Qt's namespace: all of them, ~14 ms if the app has read none
# yet; QPlainTextEdit: QFrame's and QWidget's too; QStyle's: ~5 ms).
_ENUM_READS: tuple[Callable[[], object], ...] = (
    lambda: Qt.TextFormat.PlainText,
    lambda: QPlainTextEdit.LineWrapMode.NoWrap,
    lambda: QStyle.StandardPixmap.SP_MessageBoxWarning,
    window_flags,
)


def warm_up_enums(step: int = 0) -> None:
    """Build the Qt enum classes and flag values the notification uses, in
    the GUI thread (where the app reads them: no second copy is built), one
    step per turn of the event loop so that none blocks it for long."""
    if step >= len(_ENUM_READS) or not _is_gui_thread():
        return
    _ENUM_READS[step]()
    QTimer.singleShot(0, lambda: warm_up_enums(step + 1))


class ErrorNotification(QFrame):
    """The notification window; :class:`Notifier` fills it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        # No parent window: a tool window of the active one becomes the
        # active window itself on some platforms.  On top, as a toast is.
        super().__init__(None, window_flags())
        self.anchor = parent
        self.setObjectName("pyqtguardErrorNotification")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setWindowTitle("Error")
        self.setAccessibleName("Error notification")
        self.keyboard = False      # True once the user clicked into it
        self._build()

    def _build(self) -> None:
        icon = QLabel(self)
        style = self.style()
        if style is not None:
            icon.setPixmap(style.standardIcon(
                QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(32, 32))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.title = QLabel(self)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.more = QLabel(self)
        self.more.setWordWrap(True)
        self.more.hide()
        text = QVBoxLayout()
        for label in (self.title, self.summary, self.more):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setTextFormat(Qt.TextFormat.PlainText)
            # A long word (a path, a 2,000-character message) is cut at the
            # edge rather than widening the window off the screen.
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            text.addWidget(label)
        head = QHBoxLayout()
        head.addWidget(icon)
        head.addLayout(text, 1)

        self.details = QPlainTextEdit(self)
        # A traceback reads left to right in a right-to-left app too.
        self.details.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.details.setAccessibleName("Error details")
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setMinimumHeight(220)
        self.details.hide()
        self.mute = QCheckBox("Don't show this error again in this session", self)

        self.toggle = QPushButton("Details", self)
        self.toggle.setCheckable(True)
        self.copy = QPushButton("Copy details", self)
        self.open_folder = QPushButton("Open log folder", self)
        self.report = QPushButton("Report...", self)
        self.dismiss = QPushButton("Dismiss", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.toggle)
        buttons.addStretch(1)
        for button in (self.copy, self.open_folder, self.report, self.dismiss):
            buttons.addWidget(button)
        for button in (self.toggle, self.copy, self.open_folder, self.report, self.dismiss):
            button.setAutoDefault(False)
        # Nothing in it takes the keyboard: the user keeps typing where they
        # were - until they click into its text (see take_keyboard).
        self._keyed = (self.toggle, self.mute, self.copy, self.open_folder, self.report,
                       self.dismiss, self.details)
        for child in (*self._keyed, self.title, self.summary, self.more):
            child.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for child in (icon, self.title, self.summary, self.more, self.details.viewport()):
            child.installEventFilter(self)

        layout = QVBoxLayout(self)
        # At least 420 wide, and as wide as its buttons need: a large font
        # or an app's style that widens buttons widens it (not capped at
        # 2/3 of the screen, as adjustSize() does), long text wraps.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        layout.addStrut(420)
        layout.addLayout(head)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.mute)
        layout.addLayout(buttons)
        self.toggle.toggled.connect(self._show_details)

    def _show_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.toggle.setText("Hide details" if shown else "Details")
        self.adjustSize()
        place(self)

    # -- the keyboard, once asked for -----------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.MouseButtonPress and not self.keyboard:
            self.take_keyboard(self.details if watched is self.details.viewport() else None)
        return False

    def mousePressEvent(self, event: object) -> None:  # noqa: N802
        if not self.keyboard:
            self.take_keyboard()
        super().mousePressEvent(event)  # type: ignore[arg-type]

    def take_keyboard(self, focus: QWidget | None = None) -> None:
        """The user clicked into its text: from now until it is hidden, its
        window takes the keyboard and Tab, Space and Esc work in it.  A
        click on a button or the check box only presses it (the keyboard
        stays where the user types)."""
        self.keyboard = True
        handle = self.windowHandle()
        if handle is not None:
            handle.setFlag(Qt.WindowType.WindowDoesNotAcceptFocus, False)
        for child in self._keyed:
            child.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.activateWindow()
        (focus or self.toggle).setFocus(Qt.FocusReason.MouseFocusReason)

    def keyPressEvent(self, event: object) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:  # type: ignore[attr-defined]
            self.dismiss.click()
            return
        super().keyPressEvent(event)  # type: ignore[arg-type]

    def hideEvent(self, event: object) -> None:  # noqa: N802
        if self.keyboard:
            # Shown again, it again takes no keyboard; the keyboard goes
            # back to the window the user was in.
            self.keyboard = False
            for child in self._keyed:
                child.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            handle = self.windowHandle()
            if handle is not None:
                handle.setFlag(Qt.WindowType.WindowDoesNotAcceptFocus, True)
            # (Qt has let go of an active window being hidden: None here.)
            anchor = self.anchor
            if (QApplication.activeWindow() in (None, self) and anchor is not None
                    and not _deleted(anchor) and anchor.isVisible()):
                anchor.window().activateWindow()
        super().hideEvent(event)  # type: ignore[arg-type]


def place(widget: QWidget) -> None:
    """Bottom right of the app's active window, else of the screen; always
    on that window's screen (a window dragged partly off it, a small or
    HiDPI screen)."""
    widget.adjustSize()
    anchor = getattr(widget, "anchor", None)
    if anchor is not None and not _deleted(anchor):
        anchor = _outermost_window(anchor)
    if anchor is not None and not _deleted(anchor) and anchor.isVisible():
        frame = anchor.frameGeometry()
        screen = anchor.screen()
    else:
        frame = None
        screen = QGuiApplication.primaryScreen()
    if screen is None:
        return
    room = screen.availableGeometry()
    if frame is None:
        frame = room
    size = widget.size().boundedTo(room.size())
    if size != widget.size():
        widget.resize(size)
    corner = QPoint(frame.right() - size.width() - _MARGIN,
                    frame.bottom() - size.height() - _MARGIN)
    inside = QRect(room.topLeft(), room.size() - size)   # where its top left may go
    widget.move(QPoint(min(max(corner.x(), inside.left()), inside.left() + inside.width()),
                       min(max(corner.y(), inside.top()), inside.top() + inside.height())))


def _outermost_window(widget: QWidget) -> QWidget:
    """The window *widget* is in, or the one that window's parent is in, up
    to the outermost (a main window).  Placed by a small dialog's corner (the
    active window when a modal dialog's own work raised), the notification
    covered the dialog and the field the user was typing in (seen on X11)."""
    window = widget.window()
    while window.parentWidget() is not None and window.parentWidget().window() is not window:
        window = window.parentWidget().window()
    return window


def stay_clickable(widget: QWidget) -> None:
    """Call before showing *widget*, a window of pyqtguard's with no parent,
    and while it shows (a modal dialog opened meanwhile):
    while a modal dialog is open Qt drops every click on the app's other
    windows, so the notification stayed on top of the dialog, its buttons
    dead, until the dialog closed (a real window system's clicks go through
    that check; tests' clicks on the widget do not).  A transient of the
    modal dialog is not blocked by it; with no modal dialog, none."""
    modal = QApplication.activeModalWidget()
    if modal is widget:
        return
    widget.winId()                     # its QWindow, made now if not yet
    handle = widget.windowHandle()
    parent = modal.windowHandle() if modal is not None else None
    if handle is not None and handle.transientParent() is not parent:
        handle.setTransientParent(parent)


_HOOK_SOURCES = {"sys.excepthook": 0, "threading.excepthook": 1, "sys.unraisablehook": 2}
_POLL_MS = 250       # repeats counted in C (no callback each) are read this often


class _Kind:
    """One distinct error in the notification: its first record and a count."""

    __slots__ = ("record", "title", "count", "report")

    def __init__(self, record: ExceptionRecord) -> None:
        self.record = record
        self.title = _title(record)
        self.count = 1
        self.report: Report | None = None

    def repeats(self) -> int:
        """Repeats the hooks counted since its last full report: within
        ``repeat_interval`` the same exception reaches no callback, so the
        notification asks the C core's counts."""
        record = self.record
        try:
            return int(_native.repeats_counted(_HOOK_SOURCES.get(record.source, 0),
                                               record.exc_type, record.exc_traceback))
        except Exception:  # noqa: BLE001 - a count is a nicety
            return 0


class Notifier:
    """Keeps one :class:`ErrorNotification` and what it shows."""

    def __init__(self) -> None:
        self.widget: ErrorNotification | None = None
        self.kinds: dict[str, _Kind] = {}
        self.total = 0
        self.muted: set[str] = set()
        self._building = False
        self._refresh_due = False
        self._poll: QTimer | None = None

    # -- intake ---------------------------------------------------------------

    def notify(self, record: ExceptionRecord) -> None:
        """Show *record* (or fold it into the notification on screen)."""
        if not _is_gui_thread():
            if not guithread.post_to_gui_thread(lambda: self.notify(record)):
                return             # no Qt application: nothing to show on
            return
        if not isinstance(QApplication.instance(), QApplication):
            return                 # a QCoreApplication: no widgets
        if _raised_on(self.widget, record):
            return                 # showing it would raise it again (the log has it)
        from ..reporting.report import exception_key

        key = exception_key(record)
        if key in self.muted:
            return
        kind = self.kinds.get(key)
        if kind is not None:
            kind.count += 1
        elif len(self.kinds) < _MAX_KINDS:
            self.kinds[key] = _Kind(record)
        self.total += 1
        if self.widget is None or _deleted(self.widget) or not self.widget.isVisible():
            self._refresh_now()    # the first one: at once
        elif not self._refresh_due:
            # Later ones only count; the window is updated once per batch
            # (a flood arrives as hundreds of queued callbacks in one pass
            # of the event loop: re-laying the window out for each would
            # block the GUI thread for tens of ms).
            self._refresh_due = True
            QTimer.singleShot(_REFRESH_MS, self._refresh_now)

    def _refresh_now(self) -> None:
        self._refresh_due = False
        if self._building or not self.kinds:
            return                 # an exception while we build the window: folded
        self._building = True
        try:
            self._refresh()
        finally:
            self._building = False

    # -- the window -----------------------------------------------------------

    def _first(self) -> tuple[str, _Kind]:
        key = next(iter(self.kinds))
        return key, self.kinds[key]

    def _ensure_widget(self) -> ErrorNotification:
        widget = self.widget
        if widget is not None and not _deleted(widget):
            return widget
        parent = QApplication.activeWindow()
        widget = ErrorNotification(parent if parent is not None and parent.isVisible() else None)
        widget.copy.clicked.connect(self.copy_details)
        widget.open_folder.clicked.connect(self.open_log_folder)
        widget.report.clicked.connect(self.open_report)
        widget.dismiss.clicked.connect(self.dismiss)
        self.widget = widget
        return widget

    def first_report(self) -> Report:
        _key, kind = self._first()
        if kind.report is None:
            kind.report = reporting.report_for_exception(kind.record)
        return kind.report

    def details_text(self) -> str:
        """The scrubbed report of the first error, then one line per other."""
        text = self.first_report().text
        others = list(self.kinds.values())[1:]
        if others:
            scrub = reporting.scrubber()
            text += "\nOther errors since:\n" + "\n".join(
                scrub(f"  {kind.title} (x{kind.count})") for kind in others)
        return text

    def _more_text(self) -> str:
        _key, first = self._first()
        counted = [kind.repeats() for kind in self.kinds.values()]
        more = self.total - 1 + sum(counted)
        if more <= 0:
            return ""
        if len(self.kinds) == 1:
            return f"and {more} more time{'s' if more != 1 else ''} since"
        again = first.count - 1 + counted[0]
        others = more - again
        other_errors = f"{others} other error{'s' if others != 1 else ''}"
        if not again:
            return f"and {other_errors} since (see Details)"
        return f"and {more} more since: {again} of this one, {other_errors} (see Details)"

    def _refresh(self) -> None:
        widget = self._ensure_widget()
        report = self.first_report()
        widget.title.setText(report.title)
        widget.summary.setText(report.summary)
        more = self._more_text()
        widget.more.setText(more)
        widget.more.setVisible(bool(more))
        if widget.details.isVisible() or not widget.isVisible():
            widget.details.setPlainText(self.details_text())
        widget.report.setVisible(bool(reporting.settings().destinations))
        if not widget.isVisible():
            place(widget)
            stay_clickable(widget)
            widget.show()          # WA_ShowWithoutActivating: no focus taken
            self._start_polling()
        elif more:
            place(widget)          # grown upwards: its buttons stay under the mouse

    def _start_polling(self) -> None:
        # Made anew after its QApplication: PyQt6 deletes a QTimer without a
        # parent with it (an app that makes a second QApplication).
        if self._poll is None or _deleted(self._poll):
            self._poll = QTimer()
            self._poll.setInterval(_POLL_MS)
            self._poll.timeout.connect(self._poll_counts)
        self._poll.start()

    def _poll_counts(self) -> None:
        """While shown: repeats counted in C since (cheap: one C call a kind)."""
        widget = self.widget
        if widget is None or _deleted(widget) or not widget.isVisible() or not self.kinds:
            if self._poll is not None and not _deleted(self._poll):
                self._poll.stop()
            return
        # A modal dialog opened (or closed) while it shows: its buttons
        # would be dead until the dialog closed.
        stay_clickable(widget)
        more = self._more_text()
        if more != widget.more.text():
            widget.more.setText(more)
            widget.more.setVisible(bool(more))
            place(widget)

    # -- buttons --------------------------------------------------------------

    def copy_details(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None and self.kinds:
            clipboard.setText(self.details_text())

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(reporting.settings().log_folder))

    def open_report(self) -> None:
        if not self.kinds:
            return
        from .report_dialog import ReportDialog

        dialog = ReportDialog(self.first_report(), parent=None)
        self.dismiss()             # first: the keyboard goes to the dialog, not back
        dialog.show()

    def dismiss(self) -> None:
        widget = self.widget
        if widget is not None and not _deleted(widget):
            if widget.mute.isChecked():
                self.muted.update(self.kinds)
            widget.mute.setChecked(False)
            widget.toggle.setChecked(False)
            widget.hide()
        self.kinds.clear()
        self.total = 0


def _raised_on(widget: ErrorNotification | None, record: ExceptionRecord) -> bool:
    """True if *record* was raised by the app's code handling the
    notification itself (an app-wide event filter, a style, a patched
    method given one of its widgets or its window): each refresh of the
    notification would raise it again, and each raise refresh it, forever."""
    if widget is None or _deleted(widget):
        return False
    from PyQt6 import sip
    from PyQt6.QtGui import QWindow

    handle = widget.windowHandle()
    address = sip.unwrapinstance(handle) if handle is not None else None
    tb = record.exc_traceback
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, QWidget) and not _deleted(value):
                if value.window() is widget:
                    return True
            elif isinstance(value, QWindow) and address is not None and not _deleted(value):
                if sip.unwrapinstance(value) == address:
                    return True
        tb = tb.tb_next
    return False


def _deleted(widget: QObject) -> bool:
    from PyQt6 import sip

    return bool(sip.isdeleted(widget))


_notifier: Notifier | None = None


def notifier() -> Notifier:
    """The one notifier of this process (made in the GUI thread at first use)."""
    global _notifier
    if _notifier is None:
        _notifier = Notifier()
    return _notifier


def notify(record: ExceptionRecord) -> None:
    """An :func:`pyqtguard.on_exception` callback showing the notification."""
    notifier().notify(record)
