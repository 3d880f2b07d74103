"""GUI freeze detection.

While the Qt application's event loop (or one in its place) runs, a timer
in the GUI thread bumps a heartbeat in C every ``freeze_ms / 10``; the C watchdog notices when it has
not for ``freeze_ms``.  Then the GUI thread's Python stack at that moment
goes to the run log and to :func:`on_freeze` callbacks, once per freeze;
when the loop turns again, the freeze's total duration is logged.  The
report runs in the C watchdog's report helper thread, with the GIL (see
:mod:`pyqtguard.watchdog`).
"""
from __future__ import annotations

import sys
import _thread
import time

from .. import _native
from ..config import MIN_FREEZE_MS
from .. import logs as logfile
from ..logs import warn_once
from .. import qt as qt_attach
from .. import watchdog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import Any

    from ..config import Config

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


def _gui_frame() -> FrameType | None:
    """The GUI thread's innermost frame now (None: not watched, or gone)."""
    gui_ident = _gui_ident
    return _native.current_frames().get(gui_ident) if gui_ident is not None else None


_SETTLE_SECONDS = 0.05


def _in_own_code(frame: FrameType) -> bool:
    from ..registry import OWN_FILES

    return frame.f_code.co_filename.startswith(OWN_FILES)


def _debugger_holding(frame: FrameType | None) -> str | None:
    """The debugger the GUI thread whose frame is *frame* is stopped in
    (:mod:`.debugger`: a breakpoint is no freeze), or None."""
    if frame is None:
        return None
    from .debugger import debugger_of

    return debugger_of(frame)


def _report_freeze() -> Callable[[], None] | None:
    from ..registry.listing import format_app_stack

    age, turned_again = _native.freeze_state()
    frame = _gui_frame()
    if not turned_again and frame is not None and _in_own_code(frame):
        # Back in the event loop's C++ code (the innermost Python frame is
        # pyqtguard's exec() wrapper) and the loop has not turned yet: a slot
        # that held the GIL has just returned, and this report got the GIL
        # at its end - the loop turns within milliseconds.  A freeze in C++
        # code inside the loop does not: look again after a moment.
        time.sleep(_SETTLE_SECONDS)
        age, turned_again = _native.freeze_state()
        frame = _gui_frame()
    stopped_in = None if turned_again else _debugger_holding(frame)
    if stopped_in is not None:               # a breakpoint in a slot: no freeze
        logfile.log_event(f"GUI freeze of {age} ms not reported: the GUI thread is "
                          f"stopped in a debugger ({stopped_in})", report=True)
        return None
    stack = format_app_stack(frame) if frame is not None else "(no stack)\n"
    in_qt = "" if turned_again or frame is None or not _in_own_code(frame) else _in_qt_code()
    where = ("the GUI thread turned again before this report (it held the GIL), "
             "so where it was is not known; it is now at" if turned_again else
             "the GUI thread is at")
    # Too late (the GIL taken back midway): the watchdog wrote its own
    # report; the callbacks still get theirs.
    if _native.report_wanted():
        logfile.log_event(f"GUI freeze: the event loop has not turned for {age} ms; "
                          f"{where} (most recent call last):\n{stack.rstrip()}{in_qt}",
                          report=True)
        _native.report_written()
    event = FreezeEvent(age, stack)
    callbacks = list(_freeze_callbacks)
    if not callbacks:
        return None

    def run_callbacks() -> None:
        # After the watchdog has its answer: a slow callback must not make
        # it give up on the report, nor keep it from the next freeze.
        for callback in callbacks:
            try:
                callback(event)
            except Exception as exc:  # noqa: BLE001
                warn_once(f"freeze:{callback!r}", f"on_freeze callback failed: {exc!r}")
    return run_callbacks


def _in_qt_code() -> str:
    """What to add when the GUI thread is frozen in Qt's own C++ code under
    the event loop (its innermost Python frame is pyqtguard's ``exec()``
    wrapper: no slot of the app runs).  It waits for something there - Qt
    Quick's threaded render loop for its render thread, which may be in a
    ``QQuickPaintedItem.paint()`` - so the threads in Python right now are
    the lead: their table and stacks (the ``still frozen`` report, with
    every thread, comes only after 3 s)."""
    from ..registry import listing

    try:
        infos = [t for t in listing.threads(stacks=True)
                 if t.stack and t.ident != _gui_ident]
    except Exception as exc:  # noqa: BLE001 - the report goes on without them
        return f"\n(the other threads could not be listed: {exc!r})"
    said = ("\nThe GUI thread is in Qt's own code under the event loop, not in a "
            "Python slot: it waits there for something (Qt Quick's threaded render loop "
            "waits for its render thread). ")
    if not infos:
        return said + "No other thread runs Python code now."
    return (said + "Threads in Python code now:\n"
            + listing.format_table(infos).rstrip())


def _report_lasting_freeze() -> None:
    """The freeze has lasted (5 x freeze_ms, at least 3 s; src/watchdog.c):
    every thread's stack, once - a deadlock's other side (the thread holding
    what the GUI thread waits for) shows only there."""
    from ..registry import listing

    age, turned_again = _native.freeze_state()
    if turned_again:
        return                                  # it has ended meanwhile
    if _debugger_holding(_gui_frame()) is not None:
        return                                  # said at the freeze's start
    infos = listing.threads(stacks=True)
    if not _native.report_wanted():
        return                      # too late: the watchdog wrote its own
    logfile.log_event(f"GUI freeze: still frozen after {age} ms; every thread "
                      "(a deadlock shows as threads each waiting for what another "
                      "holds):\n" + listing.format_table(infos).rstrip(), report=True)
    _native.report_written()


# ---- the heartbeat --------------------------------------------------------------
_freeze_ms = 1000
_gui_ident: int | None = None
_timer: Any = None


def _start_watch() -> None:
    start_watch(_freeze_ms)


def start_watch(freeze_ms: int) -> None:
    """Watch the calling (GUI) thread: a freeze is ``freeze_ms`` without a
    turn of its event loop (0: do nothing).  Called when the application's
    event loop starts; the pytest plugin calls it around a test's event
    loops with its own budget."""
    global _gui_ident, _timer
    if freeze_ms <= 0:
        return
    freeze_ms = max(freeze_ms, MIN_FREEZE_MS)      # no shorter than the heartbeat allows
    qtcore = sys.modules["PyQt6.QtCore"]
    app = qtcore.QCoreApplication.instance()
    if app is None:
        return
    _gui_ident = _thread.get_ident()
    watchdog.ensure_started()
    if _timer is None:
        _timer = qt_attach.unpark("heartbeat")
    if _timer is None:
        _timer = qt_attach.adopt(qtcore.QTimer())
        _timer.timeout.connect(_native.heartbeat)
    _timer.setInterval(max(10, freeze_ms // 10))
    _timer.start()
    _native.freeze_watch(freeze_ms, _thread.get_native_id())


def stop_watch() -> None:
    """Stop watching (the loop ended, or shutdown began: waiting then is no freeze)."""
    global _timer
    timer, _timer = _timer, None
    if timer is not None:
        _native.freeze_watch(0)
        qt_attach.park("heartbeat", timer)  # for the next loop; retired if another thread


# ---- install / uninstall ---------------------------------------------------------

def install(config: Config) -> None:
    """Watch the GUI thread while the event loop runs (``freeze_ms=0``: off)."""
    global _freeze_ms
    _freeze_ms = config.freeze_ms
    watchdog.on_request("F", _report_freeze)
    watchdog.on_request("L", _report_lasting_freeze)
    qt_attach.on_loop_started(_start_watch, top_level=True)
    qt_attach.on_loop_ended(stop_watch, top_level=True)


def uninstall() -> None:
    stop_watch()
    qt_attach.drop_parked("heartbeat")
