"""What the watchdog's report requests write, loaded when one is first due
(or when the app registers an :func:`on_freeze` callback): the exit-timeout
report, the GUI-freeze report with its callbacks, and the thread dump.

They run in the C watchdog's report helper thread, with the GIL (see
:mod:`pyqtguard._watchdog`).
"""
from __future__ import annotations

import sys
import time

from . import _native, _watchdog, logfile
from .logfile import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def write(code: str) -> None:
    """Write the report the watchdog asked for: ``X`` exit timeout, ``F``
    GUI freeze, ``D`` thread dump."""
    report = {"X": _report_exit_timeout, "F": _report_freeze, "D": _dump}.get(code)
    if report is not None:
        report()


def _dump() -> None:
    from . import registry

    registry.dump_threads()


def _report_exit_timeout() -> None:
    from . import registry as threads

    infos = threads.threads(stacks=True)
    text = (f"\n=== pyqtguard exit timeout ===\nshutdown began ({_watchdog._began}) "
            f"{_watchdog._budget:g} s ago "
            f"and the process has not ended. Threads still alive:\n"
            + threads.format_table(infos))
    _native.log_write(text)
    stream = sys.stderr
    if stream is not None:
        try:
            stream.write(text + (logfile.log_path_note(again=True) or ""))
            stream.flush()
        except Exception:  # noqa: BLE001
            pass


# ---- GUI freezes ---------------------------------------------------------
class FreezeEvent:
    """A GUI freeze, as seen when detected.

    Attributes: ``duration_ms`` (how long the loop had not turned when it
    was detected), ``stack`` (the GUI thread's Python stack then, most recent
    call last) and ``time`` (``time.time()`` of the detection).
    """

    __slots__ = ("duration_ms", "stack", "time")

    def __init__(self, duration_ms: int, stack: str) -> None:
        self.duration_ms = duration_ms
        self.stack = stack
        self.time = time.time()

    def __repr__(self) -> str:
        return f"FreezeEvent(duration_ms={self.duration_ms})"


_freeze_callbacks: list[Callable[[FreezeEvent], object]] = []


def on_freeze(callback: Callable[[FreezeEvent], object]) -> Callable[[FreezeEvent], object]:
    """Call ``callback(event)`` when the GUI thread freezes (usable as a
    decorator).  It runs in pyqtguard's report thread, not the GUI thread
    (which is frozen): keep it short and do not touch widgets.

    Example::

        @pyqtguard.on_freeze
        def note(event: pyqtguard.FreezeEvent) -> None:
            print(f"GUI frozen for {event.duration_ms} ms at:\\n{event.stack}")
    """
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {type(callback).__name__}")
    _freeze_callbacks.append(callback)
    return callback


def remove_freeze_callback(callback: Callable[[FreezeEvent], object]) -> bool:
    try:
        _freeze_callbacks.remove(callback)
    except ValueError:
        return False
    return True


def _report_freeze() -> None:
    import traceback

    age = _native.freeze_age_ms()
    gui_ident = _watchdog._gui_ident
    frame = sys._current_frames().get(gui_ident) if gui_ident is not None else None
    stack = "".join(traceback.format_stack(frame)) if frame is not None else "(no stack)\n"
    logfile.log_event(f"GUI freeze: the event loop has not turned for {age} ms; "
                      f"the GUI thread is at (most recent call last):\n{stack.rstrip()}")
    event = FreezeEvent(age, stack)
    for callback in list(_freeze_callbacks):
        try:
            callback(event)
        except Exception as exc:  # noqa: BLE001
            warn_once(f"freeze:{callback!r}", f"on_freeze callback failed: {exc!r}")
