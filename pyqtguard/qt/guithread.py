"""Running code in the GUI thread from any thread, and naming the current
QThread: what exception callbacks and QThread tracking need, loaded on their
first use.

A small QObject living in the application's thread receives functions through
a queued signal and calls them there.
"""
from __future__ import annotations

import sys
import _thread
import weakref

from ..registry import renewed_in_fork_children
from . import QTCORE, gui_thread_here

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_lock = renewed_in_fork_children(_thread.allocate_lock())

_bridge: Any = None


class AppMark:
    """Which QCoreApplication was seen last, without keeping it alive.

    A reference to the app kept its QApplication alive after the app's
    ``del app`` (a second one was then made beside it; whichever thread
    dropped the reference later destroyed it there: a hang, a crash).  Its
    address alone is not enough: the next app is often made at the same
    address.  So a weak reference to the wrapper, for an app Python made
    (its wrapper lives exactly as long as it does); the address for one
    made in C++ (a host embedding Python), whose wrapper may be new at each
    ``instance()``.

    Example::

        _seen = AppMark()
        if _seen.changed(app):      # the first call for each application
            app.aboutToQuit.connect(on_quit)
    """

    __slots__ = ("_ref", "_address")

    def __init__(self) -> None:
        self._ref: Any = None
        self._address = 0

    def changed(self, app: Any) -> bool:
        """True (and *app* noted) if *app* is not the application seen last."""
        from PyQt6 import sip

        address = sip.unwrapinstance(app)
        ref = self._ref
        if address == self._address and (ref is None or ref() is app):
            return False
        self._address = address
        try:
            self._ref = weakref.ref(app) if sip.ispyowned(app) else None
        except TypeError:
            self._ref = None
        return True


_bridge_app = AppMark()


def _make_bridge(qtcore: Any, app: Any) -> Any:
    class _GuiBridge(qtcore.QObject):  # type: ignore[name-defined,misc]
        posted = qtcore.pyqtSignal(object)

        def __init__(self) -> None:
            super().__init__()
            self.posted.connect(self._call)

        @qtcore.pyqtSlot(object)
        def _call(self, function: Callable[[], object]) -> None:
            function()

    bridge = _GuiBridge()
    if bridge.thread() is not app.thread():
        bridge.moveToThread(app.thread())
    return bridge


def post_to_gui_thread(function: Callable[[], object]) -> bool:
    """Queue *function* to run in the GUI thread's event loop; called in the
    GUI thread itself, it runs *function* at once (the bridge's signal is
    connected directly there), as the exception callbacks expect.

    Returns False (and does nothing) when there is no Qt application, or in
    a fork child of another thread than the GUI thread (no GUI thread
    there), so the caller can run the function directly instead.
    """
    global _bridge
    qtcore = sys.modules.get(QTCORE)
    if qtcore is None or not gui_thread_here():   # a fork child of another thread
        return False
    app = qtcore.QCoreApplication.instance()
    if app is None:
        return False
    with _lock:
        if _bridge_app.changed(app) or _bridge is None or _is_deleted(_bridge):
            old, _bridge = _bridge, _make_bridge(qtcore, app)
            if old is not None:
                _retire(old)
        bridge = _bridge
    bridge.posted.emit(function)
    return True


def _retire(bridge: Any) -> None:
    """An earlier application's bridge, replaced: deleted by the thread it
    lives in at its next turn (functions posted to it and not yet called
    still run first), not here - this may be another thread."""
    try:
        from PyQt6 import sip

        if not sip.isdeleted(bridge):
            sip.transferto(bridge, None)    # no delete from here with the wrapper
            bridge.deleteLater()
    except Exception:  # noqa: BLE001 - deleted meanwhile (Qt's teardown)
        pass


def _is_deleted(obj: Any) -> bool:
    try:
        from PyQt6 import sip

        return bool(sip.isdeleted(obj))
    except Exception:  # noqa: BLE001
        return True


def current_qthread_name() -> str | None:
    """objectName or class of the current QThread, if Qt is imported."""
    qtcore = sys.modules.get(QTCORE)
    if qtcore is None:
        return None
    try:
        thread = qtcore.QThread.currentThread()
        if thread is None:
            return None
        return thread.objectName() or type(thread).__name__
    except Exception:  # noqa: BLE001
        return None
