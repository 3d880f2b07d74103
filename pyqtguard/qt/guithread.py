"""Running code in the GUI thread from any thread, and naming the current
QThread: what exception callbacks and QThread tracking need, loaded on their
first use.

A small QObject living in the application's thread receives functions through
a queued signal and calls them there.
"""
from __future__ import annotations

import sys
import _thread

from . import QTCORE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_lock = _thread.allocate_lock()

_bridge: Any = None
# The address of the application the bridge was made for, not the app: a
# reference kept the app's QApplication alive after its `del app` (a second
# one was then made beside it), and the next bridge's assignment destroyed
# it in whatever thread posted next (a QThread's end: a hang at exit).  Not
# a weak reference either: an app made in C++ (a host embedding Python) may
# have a new wrapper at each instance().
_bridge_app: int = 0


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
    """Queue *function* to run in the GUI thread's event loop.

    Returns False (and does nothing) when there is no Qt application, so the
    caller can run the function directly instead.
    """
    global _bridge, _bridge_app
    qtcore = sys.modules.get(QTCORE)
    if qtcore is None:
        return False
    app = qtcore.QCoreApplication.instance()
    if app is None:
        return False
    from PyQt6 import sip

    address = sip.unwrapinstance(app)
    with _lock:
        if _bridge is None or _bridge_app != address or _is_deleted(_bridge):
            old, _bridge = _bridge, _make_bridge(qtcore, app)
            _bridge_app = address
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
