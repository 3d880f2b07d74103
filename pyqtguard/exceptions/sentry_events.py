"""An app's own sentry-sdk: one event per exception.

pyqtguard logs each uncaught exception at ERROR, with ``exc_info``, on the
``pyqtguard`` logger.  With logging configured, sentry-sdk's logging
integration makes an event of that record as well as its own hook's event
(excepthook, threading, unraisablehook) of the same exception; its Dedupe
only compares with the last exception of a context, so two exceptions in a
row, or a thread's hook and pyqtguard's record in another context, reached
Sentry twice.  A global event processor drops the second of such a pair,
whichever came first.  Added when the app imports ``sentry_sdk`` (see
:func:`pyqtguard.exceptions.install`), whether or not pyqtguard reports to
Sentry itself (``report_to``: pyqtguard.reporting.sentry then takes the
SDK's hooks over).

Exceptions take no weak references: the key is ``id()``, checked with the
type, the message and the innermost frame, kept for the last ``PAIRED_MAX``
only.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Mechanisms of sentry-sdk's own hooks (as pyqtguard.reporting.sentry's)
SDK_HOOK_MECHANISMS = frozenset({"excepthook", "threading", "unraisablehook"})
LOGGER = "pyqtguard"
PAIRED_MAX = 256

_paired: dict[int, tuple[type, tuple[object, ...], bool]] = {}
_added = False


def one_event_per_exception(event: dict[str, Any], hint: Any) -> dict[str, Any] | None:
    exc_info = hint.get("exc_info") if isinstance(hint, dict) else None
    if not exc_info or len(exc_info) < 2 or not isinstance(exc_info[1], BaseException):
        return event
    values = (event.get("exception") or {}).get("values") or ()
    mechanisms = {(value.get("mechanism") or {}).get("type") for value in values}
    from_our_log = event.get("logger") == LOGGER and "logging" in mechanisms
    if not from_our_log and not (mechanisms & SDK_HOOK_MECHANISMS):
        return event
    exc = exc_info[1]
    identity = (type(exc), _raised_at(values), from_our_log)
    earlier = _paired.pop(id(exc), None)
    if earlier is not None and earlier[:2] == identity[:2] and earlier[2] != from_our_log:
        return None                     # the other side sent it already
    _paired[id(exc)] = identity
    while len(_paired) > PAIRED_MAX:
        _paired.pop(next(iter(_paired)), None)
    return event


def _raised_at(values: Any) -> tuple[object, ...]:
    """The message and the innermost frame of the event's last exception:
    the same in both events of one exception (its traceback object is not:
    a thread's grows as sentry-sdk's wrapper raises it again)."""
    try:
        last = values[-1]
        frames = (last.get("stacktrace") or {}).get("frames") or [{}]
        frame = frames[-1]
        return (last.get("value"), frame.get("abs_path") or frame.get("filename"),
                frame.get("lineno"), frame.get("function"))
    except (AttributeError, IndexError, KeyError, TypeError):
        return ()


def attach() -> None:
    """Add the processor (idempotent; an SDK without the API: left alone)."""
    global _added
    if _added:
        return
    try:
        from sentry_sdk.scope import add_global_event_processor

        add_global_event_processor(one_event_per_exception)
        _added = True
    except Exception:  # noqa: BLE001 - another SDK release: as before
        pass
