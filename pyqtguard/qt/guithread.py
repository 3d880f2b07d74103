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
_bridge_app: Any = None


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
    with _lock:
        if _bridge is None or _bridge_app is not app or _is_deleted(_bridge):
            _bridge = _make_bridge(qtcore, app)
            _bridge_app = app
        bridge = _bridge
    bridge.posted.emit(function)
    return True


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
