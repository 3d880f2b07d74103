"""Install and uninstall the exception hooks.

The three hooks are C functions in ``pyqtguard._native`` (``src/exchooks.c``):
they must work during finalization and when ``sys.stderr`` is None.  Their
Python helpers (:mod:`pyqtguard.exceptions.delivery`) are imported by the C
core at the first exception, not at start-up.  The hooks that were there
before are chained to, and put back exactly by :func:`uninstall`.
"""
from __future__ import annotations

import sys
import threading

from .. import _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..config import Config

# The hooks that were there before install(): (sys, threading, unraisable).
_saved_hooks: tuple[object, object, object] | None = None

DELIVERY_MODULE = "pyqtguard.exceptions.delivery"


def install(config: Config) -> None:
    """Put the C hooks in place, chaining to the app's own hooks."""
    global _saved_hooks
    if sys.excepthook is _native.excepthook:
        return
    _saved_hooks = (sys.excepthook, threading.excepthook, sys.unraisablehook)
    _native.configure_hooks_from(DELIVERY_MODULE, config.stderr)
    _native.set_repeat_interval(config.repeat_interval)
    _native.set_previous_hooks(
        None if sys.excepthook is sys.__excepthook__ else sys.excepthook,
        None if threading.excepthook is threading.__excepthook__ else threading.excepthook,
        None if sys.unraisablehook is sys.__unraisablehook__ else sys.unraisablehook,
    )
    sys.excepthook = _native.excepthook
    threading.excepthook = _native.threading_excepthook
    sys.unraisablehook = _native.unraisablehook


def uninstall() -> None:
    """Put back exactly the hooks that were there before; write what is
    still queued."""
    global _saved_hooks
    if _saved_hooks is None:
        return
    old_sys, old_threading, old_unraisable = _saved_hooks
    if sys.excepthook is _native.excepthook:
        sys.excepthook = old_sys  # type: ignore[assignment]
    if threading.excepthook is _native.threading_excepthook:
        threading.excepthook = old_threading  # type: ignore[assignment]
    if sys.unraisablehook is _native.unraisablehook:
        sys.unraisablehook = old_unraisable  # type: ignore[assignment]
    _native.set_previous_hooks(None, None, None)
    _native.flush_exception_reports()
    _saved_hooks = None


def flush_at_exit() -> None:
    """Write the reports still queued (see src/exchooks.c); from here on each
    is written in the hook itself."""
    _native.flush_exception_reports(True)
