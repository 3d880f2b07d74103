"""The watchdog: a C thread that keeps time without the GIL (``src/watchdog.c``)
and the guards built on it: :mod:`.exit` (bounded exit), :mod:`.freeze`
(GUI freeze detection), :mod:`.dump` (the dump signal).  :mod:`.core`
starts it and hands its report requests to the guard that asked.

This package's face starts the watchdog and routes its requests (what was ``watchdog.core``):

Start the C watchdog (``src/watchdog.c``) and hand its report requests to
the guard that asked.

The C watchdog keeps time without the GIL.  When a report is due (exit
deadline, GUI freeze, dump signal) it starts a short-lived helper thread
that takes the GIL and calls :func:`_handle_request` here, which runs the
report function that guard registered with :func:`on_request`: the rich
report (names, start sites, stacks).  No Python thread waits for the whole
run just in case.  If the report does not come (the GIL is held forever,
finalization stopped Python threads), the C watchdog writes a fallback
report itself after 1.5 s.
"""
from __future__ import annotations

import _thread

from .. import _native
from ..logs import warn_once
from ..registry import loaded_threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# The name the report helper goes by while it runs Python code; the thread
# registry leaves pyqtguard's own threads out of the tables it shows.
HELPER_NAME = "pyqtguard-report"

# Request code (one letter, as the C watchdog sends it) -> report function.
_reports: dict[str, Callable[[], None]] = {}


def on_request(code: str, report: Callable[[], Callable[[], None] | None]) -> None:
    """Have *report* written when the C watchdog sends request *code*
    (``X`` exit timeout, ``F`` GUI freeze, ``L`` a lasting one, ``D``
    thread dump).  What *report*
    returns, if callable, is called once the watchdog has its answer (the
    watchdog stops waiting when *report* returns)."""
    _reports[code] = report


def _handle_request(code: str) -> Callable[[], None] | None:
    """Called by the C watchdog's report helper thread, with the GIL; what
    it returns, the helper calls after acknowledging the report."""
    report = _reports.get(code)
    if report is None:
        return None
    after = _as_helper(code, report)
    if not callable(after):
        return None
    return lambda: _as_helper(code, after)


def _as_helper(code: str, function: Callable[[], Any]) -> Any:
    ident = _thread.get_ident()
    # The helper is not a threading.Thread: give it a named placeholder so
    # that logging and the thread table know it, and remove it afterwards
    # (threading keeps such placeholders for good otherwise).  Never import
    # threading here: it would take this thread for the main one.
    threading = loaded_threading()
    helper = None
    try:
        if threading is not None:
            helper = threading._DummyThread()
            helper.name = HELPER_NAME
        return function()
    except BaseException as exc:  # noqa: BLE001 - never into the C helper
        warn_once(f"report:{code}", f"report {code!r} failed: {exc!r}")
        return None
    finally:
        if helper is not None and threading._active.get(ident) is helper:
            del threading._active[ident]
        if helper is not None:
            # Its name went into the thread table (the name setter): out
            # again, or later crash and watchdog reports listed a
            # 'pyqtguard-report' thread that had ended.
            _native.thread_unregister_current()


def started() -> bool:
    """Whether the C watchdog runs in this process (a fork child has none)."""
    return bool(_native.watchdog_running())


def ensure_started() -> None:
    """Start the C watchdog (once; again in a fork child)."""
    _native.watchdog_start(_handle_request)


def hand_off() -> None:
    """At interpreter exit: from here on Python cannot write a report, so the
    exit deadline moves from the watchdog thread to a timer, and the thread
    ends before exit_group() would have to kill it (see src/watchdog.c)."""
    _native.watchdog_hand_off()
