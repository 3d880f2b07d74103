"""The Python side of the C watchdog (``src/watchdog.c``): the report
requests, the dump signal, bounded shutdown and GUI freeze detection.

The C watchdog keeps time without the GIL.  When a report is due (exit
deadline, GUI freeze, dump signal) it starts a short-lived helper thread
that takes the GIL and calls :func:`_handle_request` here, which has
:mod:`pyqtguard._watchreports` write the rich report (names, start sites,
stacks).  No Python thread waits for the
whole run just in case.  If the report does not come (the GIL is held
forever, finalization stopped Python threads), the C watchdog writes a
fallback report itself after 1.5 s.

Bounded shutdown: once shutdown begins, the process gets ``exit_timeout``
seconds to end.  Shutdown begins when the Qt application's event loop ends
(``app.exec()`` returns) or, without Qt, when the interpreter starts to exit
(``threading._shutdown``, which joins non-daemon threads before any atexit
handler runs - so that is where a forgotten thread or executor task hangs).
From then on the C watchdog counts.  If the process is still alive at the
deadline, the log gets the threads still alive, with the stack of each and
where it was started, and the process ends with exit status
:data:`EXIT_STATUS_HUNG` (124, as coreutils' ``timeout``).  With
``exit_timeout=None`` the report is written after 10 s and the process is
left alone.  At every exit, the threads still alive when shutdown begins are
logged, so lingering threads show even when they did not block.

GUI freezes: while the Qt application's event loop runs, a timer in the GUI
thread bumps a heartbeat in C every ``freeze_ms / 10``; the C watchdog
notices when it has not for ``freeze_ms``.  Then the GUI thread's Python
stack at that moment goes to the run log and to ``on_freeze`` callbacks,
once per freeze; when the loop turns again, the freeze's total duration is
logged.
"""
from __future__ import annotations

import sys
import threading
import time

from . import _native, logfile
from .logfile import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_dump_signal: int | None = None

# The name the report helper goes by while it runs Python code; the thread
# registry leaves pyqtguard's own threads out of the tables it shows.
_HELPER_NAME = "pyqtguard-report"


def _handle_request(code: str) -> None:
    """Called by the C watchdog's report helper thread, with the GIL."""
    ident = threading.get_ident()
    # The helper is not a threading.Thread: give it a named placeholder so
    # that logging and the thread table know it, and remove it afterwards
    # (threading keeps such placeholders for good otherwise).
    helper = None
    try:
        helper = threading._DummyThread()  # type: ignore[attr-defined]
        helper.name = _HELPER_NAME
        from . import _watchreports     # loaded when a report is first due

        _watchreports.write(code)
    except BaseException as exc:  # noqa: BLE001 - never into the C helper
        warn_once(f"report:{code}", f"pyqtguard: report {code!r} failed: {exc!r}")
    finally:
        if helper is not None and threading._active.get(ident) is helper:  # type: ignore[attr-defined]
            del threading._active[ident]  # type: ignore[attr-defined]


def started() -> bool:
    """Whether the C watchdog runs in this process (a fork child has none)."""
    return bool(_native.watchdog_running())


def ensure_started() -> None:
    """Start the C watchdog (once; again in a fork child)."""
    _native.watchdog_start(_handle_request)


def dump_signal() -> int | None:
    return _dump_signal


# ---- Python stacks for the C fallback reports (3.13+) ----------------------
_stack_signal = 0


# ---- bounded shutdown ------------------------------------------------------
EXIT_STATUS_HUNG = 124
REPORT_ONLY_AFTER = 10.0

_timeout: float | None = 10.0
_budget = 10.0                  # seconds the exit gets (the report's time if no limit)
_limit_text = "10 s"            # as the log says it
_enabled = False
_began: str | None = None
_original_shutdown: Any = None


def _lingering_table() -> str:
    from . import registry as threads

    infos = [t for t in threads.threads() if t.kind != "main"
             and t.native_id != threading.get_native_id()]
    if not infos:
        return ""
    return threads.format_table(infos, with_stacks=False)


def begin_shutdown(reason: str) -> None:
    """Start the exit deadline (once); stop QThreads within it.

    Kept short on purpose: it runs when the app has just torn its windows
    down and every line of cold code costs microseconds of the app's exit."""
    global _began
    if not _enabled or _began is not None:
        return
    _began = reason
    # Waiting for QThreads below keeps the GUI thread from its event loop
    # on purpose: not a freeze.
    _stop_freeze_watch()
    others = -1
    try:
        ensure_started()
        # Arming also counts the threads besides this one and the watchdog
        # (one fstat in C): at a clean exit there are none, and the table
        # is not listed.
        others = _native.watchdog_arm_exit(_budget, _timeout is not None, EXIT_STATUS_HUNG,
                                           reason)
    except OSError as exc:
        warn_once("exitwatch", f"no exit watchdog: {exc}")
    table = "" if others == 0 else _lingering_table()
    logfile.log_event("pyqtguard: shutdown began (" + reason + "); the process has "
                      + _limit_text + " to end"
                      + (". Threads still alive:\n" + table if table else
                         "; no other threads alive"))
    qthreads = sys.modules.get("pyqtguard._qthreads")   # loaded once QThread is used
    if qthreads is not None:
        _stop_qthreads(qthreads)


def _stop_qthreads(qthreads: Any) -> None:
    """Ask running QThreads to stop and wait for them, leaving a margin
    before the deadline for the report; log those that did not stop."""
    stubborn = qthreads.stop_all(time.monotonic() + max(0.0, _budget - 0.5))
    if stubborn:
        from .registry import python_stack

        for record in stubborn:
            stack = python_stack(record.native_id) or ""
            logfile.log_event(f"pyqtguard: QThread {record.name!r} (started at {record.site or '?'}) did "
                 "not stop when asked (requestInterruption + quit) within the deadline; it "
                 "is kept alive so Qt cannot abort on it"
                 + (f". It is at (most recent call last):\n{stack}" if stack else ""))


def _reset_exit_deadline() -> None:
    """A new event loop (e.g. tests that exec() repeatedly): no shutdown yet."""
    global _began
    if _began is not None and _began.startswith("the Qt event loop"):
        _began = None
        _native.watchdog_disarm_exit()


def _begin_shutdown_at_loop_end() -> None:
    begin_shutdown("the Qt event loop ended")


def _shutdown_wrapper() -> None:
    begin_shutdown("the interpreter is exiting")
    _original_shutdown()


# ---- GUI freezes ----------------------------------------------------------
_freeze_ms = 1000
_gui_ident: int | None = None
_timer: Any = None


def _start_freeze_watch() -> None:
    global _gui_ident, _timer
    if _freeze_ms <= 0:
        return
    qtcore = sys.modules["PyQt6.QtCore"]
    app = qtcore.QCoreApplication.instance()
    if app is None:
        return
    _gui_ident = threading.get_ident()
    ensure_started()
    if _timer is None:
        _timer = qtcore.QTimer()
        _timer.timeout.connect(_native.heartbeat)
    _timer.setInterval(max(10, _freeze_ms // 10))
    _timer.start()
    _native.freeze_watch(_freeze_ms, threading.get_native_id())


def _stop_freeze_watch() -> None:
    global _timer
    if _timer is not None:
        _native.freeze_watch(0)
        _timer.stop()
        _timer = None
