"""Exceptions nobody handles in an asyncio loop - a callback's, a task's that
was never retrieved - reported as a slot's are (``[asyncio]`` in the run
log, with the traceback, through :mod:`.delivery` to the ``pyqtguard``
logger and ``on_exception`` callbacks), instead of only asyncio's message
on stderr.

asyncio hands such exceptions to the loop's exception handler; without one
the app set, to ``default_exception_handler``.  That is what is replaced -
on ``asyncio.BaseEventLoop`` when asyncio is imported, and on qasync's loop
(which has its own) when qasync is - so an exception the app's own handler
takes (``loop.set_exception_handler``) stays the app's, and one its handler
passes on to the default is reported.  A context without an exception (an
unclosed transport, a slow callback in debug mode) goes to asyncio's
handler as before.  Loaded when asyncio is imported, not at start-up.

Example::

    async def main():
        asyncio.get_running_loop().call_soon(lambda: 1 / 0)   # reported
"""
from __future__ import annotations

from .. import _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MESSAGE_MAX = 200
# class -> its default_exception_handler before pyqtguard's
_originals: dict[type, Any] = {}


def _context_line(context: dict[str, Any]) -> str:
    """The handler's message, as asyncio words it, on one line."""
    message = context.get("message")
    text = str(message) if message else "Unhandled exception in event loop"
    line = text.splitlines()[0] if text.strip() else "Unhandled exception in event loop"
    return line[:_MESSAGE_MAX]


def _wrap(loop_class: type) -> None:
    original = loop_class.__dict__.get("default_exception_handler")
    if original is None or loop_class in _originals:
        return

    def default_exception_handler(self: Any, context: Any) -> Any:
        exception = context.get("exception") if isinstance(context, dict) else None
        if isinstance(exception, BaseException):
            try:
                _native.asyncio_report(exception, _context_line(context))
                return None
            except Exception:  # noqa: BLE001 - asyncio's own message then
                pass
        return original(self, context)

    default_exception_handler.__wrapped__ = original  # type: ignore[attr-defined]
    _originals[loop_class] = original
    loop_class.default_exception_handler = default_exception_handler  # type: ignore[attr-defined]


def attach_asyncio(base_events: Any) -> None:
    """When ``asyncio.base_events`` is imported (at once if it is)."""
    _wrap(base_events.BaseEventLoop)


def attach_qasync(qasync: Any) -> None:
    """When ``qasync`` is imported: its loop has a handler of its own."""
    loop_class = getattr(qasync, "_QEventLoop", None)
    if isinstance(loop_class, type):
        _wrap(loop_class)


def detach() -> None:
    """Put every replaced handler back (uninstall)."""
    for loop_class, original in list(_originals.items()):
        if getattr(loop_class.__dict__.get("default_exception_handler"), "__wrapped__",
                   None) is original:
            loop_class.default_exception_handler = original  # type: ignore[attr-defined]
        del _originals[loop_class]

