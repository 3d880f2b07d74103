"""Built-in dialogs (issue 22): an error notification for exceptions the app
survived, and the "crashed last time" dialog at the next start.

The component of :func:`pyqtguard.install` for ``dialogs=True``: it adds an
:func:`pyqtguard.on_exception` callback showing the notification (callbacks
run in the GUI thread when a QApplication exists) and, when the event loop
starts, offers the previous run's crash (unless ``auto_send`` sends it).
The widgets (:mod:`.notification`, :mod:`.report_dialog`) load on first
use: installing imports no Qt module.

Without the switch::

    pyqtguard.show_error_notifications()   # the notification only
    pyqtguard.offer_last_crash(window)      # the crash dialog, once per crash
"""
from __future__ import annotations

from .. import qt as qt_attach

TYPE_CHECKING = False
if TYPE_CHECKING:
    from PyQt6.QtWidgets import QWidget

    from ..config import Config
    from ..exceptions.delivery import ExceptionRecord
    from .report_dialog import ReportDialog

_enabled = False          # show_error_notifications() in force
_offer_at_start = False   # install(dialogs=True) without auto_send
_no_widgets_said = False  # the log told that this app has no QApplication


def _widgets_possible() -> bool:
    """A QApplication exists (not a QGuiApplication or QCoreApplication)."""
    import sys

    qtcore = sys.modules.get("PyQt6.QtCore")
    app = qtcore.QCoreApplication.instance() if qtcore is not None else None
    return app is not None and bool(app.inherits("QApplication"))


def _notify(record: ExceptionRecord) -> None:
    if not _widgets_possible():
        return                  # no widgets in this process (yet): the log has it
    from . import notification

    notification.notify(record)


def show_error_notifications(enabled: bool = True) -> None:
    """Show (or stop showing) the error notification for uncaught exceptions.

    Example::

        pyqtguard.show_error_notifications()
    """
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, not {type(enabled).__name__}")
    from ..exceptions import delivery

    if enabled and not _enabled:
        delivery.on_exception(_notify)
    elif not enabled and _enabled:
        delivery.remove_exception_callback(_notify)
    _enabled = enabled


def offer_last_crash(parent: QWidget | None = None) -> ReportDialog | None:
    """Offer to send the previous run's crash report, once per crash: shows
    the dialog (non-modal) and returns it, or None when there is nothing to
    offer.  Call it in the GUI thread once the QApplication exists.

    Example::

        window.show()
        pyqtguard.offer_last_crash(window)

    See :func:`pyqtguard.dialogs.report_dialog.offer_last_crash`."""
    from .report_dialog import offer_last_crash as offer

    return offer(parent)


def _warm_up_step(step: str) -> bool:
    """Run ``notification.<step>()``; False (warned once) if it failed."""
    try:
        from . import notification

        getattr(notification, step)()
    except Exception as exc:  # noqa: BLE001 - only a speed-up
        from ..logs import warn_once

        warn_once("dialogs:warm", f"dialog warm-up failed: {exc!r}")
        return False
    return True


def _warm_up() -> None:
    if _warm_up_step("warm_up"):
        # After the imports: the GUI thread does not wait on their locks.
        from ..qt import guithread

        guithread.post_to_gui_thread(lambda: _warm_up_step("warm_up_enums"))


def _when_loop_starts() -> None:
    """Warm the dialogs up (the first notification would otherwise block the
    GUI thread ~80 ms for imports and enum classes): the imports on a worker
    thread, Qt's enums in the GUI thread, a step per turn of its loop (see
    :func:`.notification.warm_up`); offer the last crash as the loop starts.

    Both are widgets: an app without a QApplication (a QML app on a
    QGuiApplication) gets neither - no warm-up importing QtWidgets, no
    offer failing on stderr at every start - and one line in the log."""
    global _no_widgets_said
    if not _widgets_possible():
        if (_enabled or _offer_at_start) and not _no_widgets_said:
            _no_widgets_said = True
            from ..logs import log_event

            log_event("pyqtguard: dialogs=True, but this app has no QApplication (a "
                      "QGuiApplication: Qt Quick/QML): no error notification and no "
                      "crash dialog, which are widgets; reports are in this log, the "
                      "last crash in pyqtguard.last_crash()")
        return
    if _enabled:
        import threading

        threading.Thread(target=_warm_up, name="pyqtguard-dialogs-warm-up", daemon=True).start()
    if not _offer_at_start:
        return
    from ..qt import guithread

    def offer() -> None:
        try:
            offer_last_crash()
        except Exception as exc:  # noqa: BLE001 - never break the app's start
            from ..logs import warn_once

            warn_once("dialogs:offer", f"could not offer the last crash: {exc!r}")

    guithread.post_to_gui_thread(offer)        # at once: this is the GUI thread


def install(config: Config) -> None:
    global _offer_at_start
    if not config.dialogs:
        return
    show_error_notifications(True)
    from .. import reporting

    # With auto_send the crash is sent without asking - if there is a
    # destination that needs no browser; else it is offered.
    sends_itself = config.auto_send and bool(
        reporting.background_destinations(tuple(config.report_to)))  # type: ignore[arg-type]
    _offer_at_start = not sends_itself
    qt_attach.on_loop_started(_when_loop_starts)


def uninstall() -> None:
    global _offer_at_start
    show_error_notifications(False)
    _offer_at_start = False
