"""Bounded exit: once shutdown begins, the process gets ``exit_timeout``
seconds to end.

Shutdown begins when the Qt application's event loop ends (``app.exec()``
returns; not a loop in its place) or, without Qt, when the interpreter starts to exit
(``threading._shutdown``, which joins non-daemon threads before any atexit
handler runs - so that is where a forgotten thread or executor task hangs;
in a program that never imports :mod:`threading`, in an exit handler kept
ahead of the app's own).
From then on the C watchdog (:mod:`pyqtguard.watchdog`) counts.  If the
process is still alive at the deadline, the log gets the threads still
alive, with the stack of each and where it was started, and the process
ends with exit status :data:`EXIT_STATUS_HUNG` (124, as coreutils'
``timeout``).  With ``exit_timeout=None`` the report is written after 10 s
and the process is left alone.  At every exit, the threads still alive when
shutdown begins are logged, so lingering threads show even when they did
not block.  Running QThreads are asked to stop at interpreter exit, in an
atexit handler that runs before PyQt6's clean-up (or when a parent that
owns one is destroyed first), not when the loop ends: the app's code after
``exec()`` and its atexit handlers may still use them.
"""
from __future__ import annotations

import _thread
import atexit
import os
import sys
import time

from .. import _native
from .. import logs as logfile
from ..logs import warn_once
from .. import qt as qt_attach
from ..registry import in_main_thread, loaded_threading
from ..registry import tracking as thread_tracking
from .. import watchdog
from . import freeze as freeze_watch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..config import Config

EXIT_STATUS_HUNG = 124
EXIT_STATUS_SIGTERM = 143
REPORT_ONLY_AFTER = 10.0

_timeout: float | None = 10.0
_budget = 10.0                  # seconds the exit gets (the report's time if no limit)
_limit_text = "10 s"            # as the log says it
_enabled = False
_began: str | None = None
_began_at = 0.0                 # time.monotonic() when shutdown began
# (native id, kind, name) of the thread that began it when not the main
# thread: sys.exit() in a QThread's run() or a QRunnable's (PyQt6 ends the
# interpreter there), or in a slot of a thread's own loop.
_began_in: tuple[int, str, str] | None = None
_original_shutdown: Any = None
_stop_registered = False
_atexit_register: Any = None      # atexit.register before pyqtguard's wrapper


def _lingering_table() -> str:
    from ..registry import listing as threads

    # MainThread is left out when it is the one exiting (its native id may
    # be the parent's in a fork child, 3.11), not when another thread is.
    main_exits = _began_in is None
    infos = [t for t in threads.threads() if not (main_exits and t.kind == "main")
             and t.native_id != _thread.get_native_id()]
    if not infos:
        return ""
    return threads.format_table(infos, with_stacks=False)


def _exiting_thread() -> tuple[int, str, str]:
    """(native id, kind, name) of the calling thread, not the main one."""
    from ..registry import listing as threads

    here = _thread.get_native_id()
    info = next((t for t in threads.threads(all=True) if t.native_id == here), None)
    return (here, info.kind, info.name) if info is not None else (here, "native", "?")


def begin_shutdown(reason: str) -> None:
    """Start the exit deadline (once).

    Kept short on purpose: it runs when the app has just torn its windows
    down and every line of cold code costs microseconds of the app's exit."""
    global _began, _began_at, _began_in
    if not _enabled or _began is not None:
        return
    _began_in = None
    if not in_main_thread():
        from .exitreasons import thread_label

        _began_in = _exiting_thread()
        reason += f", in {thread_label(_began_in[1], _began_in[2])}"
    _began = reason
    _began_at = time.monotonic()
    # Waiting for QThreads (at exit, or when a parent of one goes) keeps the
    # GUI thread from its event loop on purpose: not a freeze.
    freeze_watch.stop_watch()
    others = -1
    try:
        watchdog.ensure_started()
        # Arming also counts the threads besides this one and the watchdog
        # (one fstat in C): at a clean exit there are none, and the table
        # is not listed.
        others = _arm_deadline(reason)
    except OSError as exc:
        warn_once("exitwatch", f"no exit watchdog: {exc}")
    table = "" if others == 0 else _lingering_table()
    logfile.log_event("pyqtguard: shutdown began (" + reason + "); the process has "
                      + _limit_text + " to end"
                      + (". Threads still alive:\n" + table if table else
                         "; no other threads alive"))
    # QThreads are left alone until the interpreter exits: after exec() the
    # app may still use them (save through one, wait for its job, exec()
    # again).  One whose parent goes first is stopped then (Qt would delete
    # it running, with the parent).
    qthreads = thread_tracking.loaded_qthreads()
    if qthreads is not None:
        qthreads.stop_with_parent(lambda records: _stop_qthreads(qthreads, records))


def _stop_qthreads(qthreads: Any, records: list[Any] | None = None) -> None:
    """Ask running QThreads (all, or *records*) to stop and wait for them,
    leaving a margin before the deadline for the report; log those that
    did not stop."""
    asked_at = time.monotonic()
    stubborn = qthreads.stop_all(_wait_deadline(), records)
    if stubborn:
        from ..registry.listing import python_stack

        # Not "within the deadline": the wait ends half a second before it,
        # and the process may end at once, before the deadline.
        waited = max(0.0, time.monotonic() - asked_at)
        limit = (f"the {_limit_text} exit deadline" if _timeout is not None else
                 f"exit_timeout=None: the {_budget:g} s of the exit report")
        for record in stubborn:
            stack = python_stack(record.native_id) or ""
            logfile.log_event(f"pyqtguard: QThread {record.name!r} (started at {record.site or '?'}) did "
                 f"not stop when asked (requestInterruption + quit) within {waited:.1f} s "
                 f"({limit} less a margin for the report); it is no "
                 "longer waited for, and kept alive so Qt cannot abort on it: the process "
                 "may end with it still running"
                 + (f". It is at (most recent call last):\n{stack}" if stack else ""))


def _reset_exit_deadline() -> None:
    """A new event loop (tests that exec() again, "save changes?" after it):
    no shutdown yet."""
    global _began, _resume_after_top_level, _extensions
    if _began is not None and _began.startswith("the Qt event loop"):
        _began = None
        _extensions = 0                 # the next shutdown gets its own
        _native.watchdog_disarm_exit()
        _resume_after_top_level = qt_attach.in_top_level_loop()


_resume_after_top_level = False


def _top_level_loop_ended() -> None:
    """A loop in the application's place ended: shutdown begins again only
    if it had begun before it (docs/threads.md)."""
    global _resume_after_top_level
    if _resume_after_top_level and qt_attach.in_top_level_loop():
        _resume_after_top_level = False
        begin_shutdown("the Qt event loop ended, and a dialog's after it")


def _begin_shutdown_at_loop_end() -> None:
    begin_shutdown("the Qt event loop ended")


def _shutdown_wrapper() -> None:
    begin_shutdown("the interpreter is exiting")
    _original_shutdown()


def begin_at_exit() -> None:
    """pyqtguard's exit handler: shutdown begins here if nothing began it
    (no event loop ended, and threading - whose ``_shutdown`` begins it
    otherwise - was never imported)."""
    if _enabled:
        qt_attach.quiet_gui_thread_at_exit(_wait_deadline())    # an exit off the GUI thread
    begin_shutdown("the interpreter is exiting")


def _keep_begin_first() -> None:
    """Without threading, shutdown begins in an exit handler - and atexit
    runs the last registered first: a handler the app or a library
    registers after install() would run, and could hang, before the
    deadline begins.  So, until threading is imported or the event loop
    starts (either begins shutdown earlier), ``atexit.register`` registers
    :func:`begin_at_exit` again after each handler, keeping it the first to
    run."""
    global _atexit_register
    if _atexit_register is not None:
        return
    real = _atexit_register = atexit.register

    def register(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        real(func, *args, **kwargs)
        atexit.unregister(begin_at_exit)
        real(begin_at_exit)
        return func

    register.__doc__ = real.__doc__
    register.__wrapped_by__ = "pyqtguard"  # type: ignore[attr-defined]
    atexit.register = register
    real(begin_at_exit)


def _stop_keeping_begin_first(*_args: object) -> None:
    """Put ``atexit.register`` back (only over pyqtguard's own wrapper: one
    put over it since stays, and calls through ours, which still works)."""
    global _atexit_register
    real, _atexit_register = _atexit_register, None
    if real is not None and getattr(atexit.register, "__wrapped_by__", None) == "pyqtguard":
        atexit.register = real


def _wrap_threading_shutdown(threading: Any) -> None:
    """Begin shutdown where the interpreter joins threading's threads (at
    install, or when the app imports threading)."""
    global _original_shutdown
    if _enabled and _original_shutdown is None:
        _original_shutdown = threading._shutdown
        threading._shutdown = _shutdown_wrapper
    _stop_keeping_begin_first()


def _stop_qthreads_at_exit_registered(qtcore: Any) -> None:
    """Once PyQt6 is imported: registered after PyQt6's own atexit clean-up
    (which destroys the application and its windows), so run before it; the
    atexit handlers the app registers later run before this one."""
    global _stop_registered
    if not _stop_registered:
        _stop_registered = True
        atexit.register(stop_qthreads_at_exit)


def stop_qthreads_at_exit() -> None:
    """Ask the QThreads still running to stop (an atexit handler): after the
    app's own atexit handlers, which may still use them, and before PyQt6's
    clean-up and the teardown destroy them (and their parents) running."""
    # Before PyQt6's clean-up, which runs next: when it runs off the GUI
    # thread, the GUI thread's loop must sleep through it (see there), and a
    # Qt message that clean-up sends (Python and a log write in pyqtguard's
    # handler, in the middle of the dispatcher's destruction) widens the
    # window in which it may wake: Qt's default handler prints it, as
    # without pyqtguard (FINDINGS-h36).
    if _enabled and qt_attach.quiet_gui_thread_at_exit(_wait_deadline()):
        messages = sys.modules.get("pyqtguard.crashes.qt_messages")
        if messages is not None:
            messages.detach_before_clean_up_elsewhere()
    qthreads = thread_tracking.loaded_qthreads()
    if _enabled and qthreads is not None:
        begin_shutdown("the interpreter is exiting")
        _stop_qthreads(qthreads)
        qthreads.unwatch_parents()


def _wait_deadline() -> float:
    """When pyqtguard's own waits at exit must end: the exit deadline (from
    now, if shutdown has not begun) less half a second for the report."""
    began = _began_at if _began is not None else time.monotonic()
    return began + max(0.0, _budget - 0.5)


def _arm_deadline(reason: str) -> int:
    """The C watchdog ends the process (or, with ``exit_timeout=None``,
    reports) ``_budget`` seconds from now; returns how many threads there
    are besides this one and the watchdog (-1: unknown).  With no shutdown
    begun, the deadline is an untaken SIGTERM's: it keeps that status."""
    status = (EXIT_STATUS_HUNG if _began is not None and not _closing_by_sigterm()
              else EXIT_STATUS_SIGTERM)
    return _native.watchdog_arm_exit(  # type: ignore[no-any-return]
        _budget, _timeout is not None, status, reason)


def _closing_by_sigterm() -> bool:
    """A SIGTERM closed the application (pyqtguard.interrupts): an exit that
    then hangs ends with SIGTERM's status, as the process was terminated."""
    interrupts = sys.modules.get("pyqtguard.interrupts")
    return interrupts is not None and interrupts.closing_signal() == EXIT_STATUS_SIGTERM - 128


def sigterm_closed_the_loop() -> None:
    """Called by pyqtguard.interrupts when the loop ended closing for a
    SIGTERM it read only then: the deadline armed at the loop's end gets
    SIGTERM's status."""
    if _began is not None and _enabled:
        _arm_deadline(_began)


# A process still working when the deadline passes (saving, computing) gets
# the budget again, at most this many times (watchdog/progress.py).
MAX_EXTENSIONS = 5
_extensions = 0


def _still_working() -> bool:
    """The deadline passed while the process still works - an app saving or
    computing after exec() returned: the deadline starts again, at most
    MAX_EXTENSIONS times (said once in the log).  Not for an untaken SIGTERM
    (the app was asked to end) nor with exit_timeout=None (nothing ends it)."""
    global _extensions
    if _began is None or _timeout is None or _extensions >= MAX_EXTENSIONS:
        return False
    from . import progress

    seen = progress.work_seen()
    if seen is None:
        return False
    _extensions += 1
    _arm_deadline(_began)
    if _extensions == 1:
        logfile.log_event(
            f"pyqtguard: the exit deadline passed while the process is still working "
            f"({seen}): it gets {_limit_text} more, at most {MAX_EXTENSIONS} times, "
            f"as long as it works")
    return True


def before_hand_off() -> None:
    """The interpreter's teardown begins (pyqtguard's exit handler, just
    before the deadline moves to a timer that cannot look at the process):
    a process seen still working at the last deadline has reached its end,
    which is progress, so the teardown gets the budget again (one more
    extension, within MAX_EXTENSIONS) instead of being ended a few
    milliseconds into it."""
    global _extensions
    if (_extensions and _extensions < MAX_EXTENSIONS and _began is not None
            and _timeout is not None):
        _extensions += 1
        _arm_deadline(_began)


_debugging_said = False


def _held_by_debugger() -> bool:
    """The deadline passed while a thread is stopped at a breakpoint: a
    developer at work, not a hang.  The deadline starts again (the C
    watchdog then does not end the process), said once in the log."""
    global _debugging_said
    from . import debugger

    stopped = debugger.stopped_threads()
    if not stopped:
        return False
    _arm_deadline(_began or "")
    if not _debugging_said:
        _debugging_said = True
        logfile.log_event(f"pyqtguard: the exit deadline passed while "
                          f"{debugger.describe(stopped)}: the process is not ended; the "
                          f"deadline starts again each time it passes so")
    return True


def _why_held(infos: list[Any]) -> str:
    """What holds the exit, in a sentence a user can act on (loaded only
    for this report: :mod:`pyqtguard.watchdog.exitreasons`)."""
    from . import exitreasons

    note = _fork_note()
    return exitreasons.why_held(infos, _began_in,
                                pool_busy_in_fork_child=note[2] if note is not None else 0)


def _fork_note() -> tuple[int, bool | None, int] | None:
    """pyqtguard's note of the last fork (see pyqtguard._forknote) when
    this process is that fork's child; else None."""
    from .._forknote import last_fork as note

    return note if note is not None and note[0] != os.getpid() else None


def _report_exit_timeout() -> None:
    from ..registry import listing as threads

    if _held_by_debugger() or _still_working():
        return
    infos = threads.threads(stacks=True)
    heading = "\n=== pyqtguard exit timeout ===\n"
    # No shutdown began: the deadline is a SIGTERM's that the GUI thread,
    # stuck in a slot, never took (src/watchdog.c, check_untaken_signal).
    what = (f"shutdown began ({_began}) {time.monotonic() - _began_at:.0f} s ago and the "
            f"process has not ended"
            if _began is not None else
            f"SIGTERM received {_budget:g} s ago and not taken: the GUI thread is busy "
            f"(its stack below), so the application could not close")
    if _extensions:
        what += (f"; still working after {_extensions} more deadline"
                 f"{'s' if _extensions != 1 else ''}" if _extensions >= MAX_EXTENSIONS
                 else f" (extended {_extensions} time{'s' if _extensions != 1 else ''} "
                      f"while it worked)")
    body = (f"pid: {os.getpid()}\n"          # a forked child writes to the parent's log
            f"{what}. Threads still alive:\n"
            + threads.format_table(infos) + _why_held(infos))
    text = heading + body
    if not _native.report_wanted():
        return                      # too late: the watchdog wrote its own
    _native.log_section(heading, body, "")       # names, stacks: defused
    _native.report_written()
    stream = sys.stderr
    if stream is not None:
        try:
            stream.write(text + (logfile.log_path_note(again=True) or ""))
            stream.flush()
        except Exception:  # noqa: BLE001
            pass


# ---- install / uninstall ---------------------------------------------------------

def _forked() -> None:
    """In a fork child: the deadline a shutdown armed is the parent's (the C
    watchdog forgets it there, src/watchdog.c), and so is the shutdown.
    Kept begun, the child's own exit began none - no deadline, no line - and
    a forgotten thread held it for good.  Its interpreter exit begins its
    own shutdown, as a child forked before the loop's end does.  (Not a
    deadline from the fork on: a child may work long, a pool's worker.)"""
    global _began, _extensions, _began_in
    _began, _extensions, _began_in = None, 0, None


if hasattr(os, "register_at_fork"):      # not on Windows
    os.register_at_fork(after_in_child=_forked)


def install(config: Config) -> None:
    """Arm bounded exit: at the event loop's end, else at interpreter exit."""
    global _timeout, _budget, _limit_text, _enabled, _original_shutdown
    _timeout = config.exit_timeout
    _budget = REPORT_ONLY_AFTER if _timeout is None else _timeout
    _limit_text = "no limit" if _timeout is None else f"{_timeout:g} s"
    _enabled = True
    watchdog.on_request("X", _report_exit_timeout)
    qt_attach.on_loop_started(_reset_exit_deadline, top_level=True)
    qt_attach.on_loop_ended(_begin_shutdown_at_loop_end)
    qt_attach.on_loop_ended(_top_level_loop_ended, top_level=True)
    threading = loaded_threading()
    if threading is not None:
        _wrap_threading_shutdown(threading)
    else:
        qt_attach.when_imported("threading", _wrap_threading_shutdown)
        _keep_begin_first()
        qt_attach.on_loop_started(_stop_keeping_begin_first)
    qt_attach.when_qt_imported(_stop_qthreads_at_exit_registered)


def uninstall() -> None:
    global _enabled, _began, _original_shutdown, _stop_registered, _resume_after_top_level
    _enabled = False
    _began = None
    _resume_after_top_level = False
    _stop_keeping_begin_first()
    atexit.unregister(begin_at_exit)
    qthreads = thread_tracking.loaded_qthreads()
    if qthreads is not None:
        qthreads.unwatch_parents()
    if _stop_registered:
        atexit.unregister(stop_qthreads_at_exit)
        _stop_registered = False
    if _original_shutdown is not None:
        threading = loaded_threading()
        if threading._shutdown is _shutdown_wrapper:
            threading._shutdown = _original_shutdown
            _original_shutdown = None
        # else another tool wrapped it since: its wrapper stays, and ours,
        # inside it, only calls on (begin_shutdown does nothing uninstalled).
    try:
        _native.watchdog_disarm_exit()
    except Exception:  # noqa: BLE001
        pass
