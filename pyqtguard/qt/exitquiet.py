"""An interpreter exit off the GUI thread, while the GUI thread's loop runs.

``sys.exit()`` in a QThread's ``run()`` ends the interpreter in that
QThread (PyQt6 prints the exception, SystemExit exits).  PyQt6's clean-up
there deletes the QCoreApplication, and the GUI thread's event dispatcher
with it, while the GUI thread waits in that dispatcher.  The app alone
sleeps through it.  pyqtguard's own objects in the GUI thread (the freeze
heartbeat, the wake-up notifiers) woke it inside the freed dispatcher -
SIGSEGV in about 1 such exit in 5 (FINDINGS-h36): stopped or deleted from
the exiting thread (by pyqtguard, or by PyQt6's clean-up: they are
Python-owned), each hands work to the GUI thread, and a notifier still
enabled wakes it as the dispatcher goes.

So the GUI thread stops them itself, while the application is whole, and
they are kept, owned by C++, to the process's end; and the exiting thread
goes on only once the GUI thread is back asleep in ``poll()``.  Loaded only
at such an exit (:func:`pyqtguard.qt.quiet_gui_thread_at_exit`).
"""
from __future__ import annotations

import _thread
import os
import sys
import time
from typing import Callable

QUIET_WAIT = 1.0        # seconds the exiting thread waits for the GUI thread, each turn

# Linux's numbers of the calls an event dispatcher blocks in (poll, ppoll,
# select, pselect6, epoll_wait, epoll_pwait), by machine.
_BLOCKING_CALLS = {"x86_64": {b"7", b"271", b"23", b"270", b"232", b"281"},
                   "aarch64": {b"73", b"72", b"22"}}


def quiet_gui_thread(stop_own_objects: Callable[[], None], deadline: float | None = None) -> bool:
    """Have the GUI thread run *stop_own_objects* and let go of the thread
    bridge (waited for at most QUIET_WAIT s), then wait until it sleeps in
    its dispatcher again.  Returns whether it did so: its objects are then
    kept to the end.  False: a busy GUI thread, or no bridge to it - the
    exit goes on as before.  *deadline* (``time.monotonic()``): the wait
    for the GUI thread to block again ends by then - the exit deadline less
    a margin for its report: a GUI thread that never idles (a 0 ms timer)
    made the exit go past a short ``exit_timeout``.  Its two turns are
    waited for QUIET_WAIT each (a thread that handles events takes them at
    once; their objects must be stopped in that thread, not this one).  A
    wait given up on is logged.

    Example::

        kept = exitquiet.quiet_gui_thread(stop_own_objects_here, time.monotonic() + 2.5)
    """
    def left() -> float:
        """The last wait's time: QUIET_WAIT, or what is left to *deadline*."""
        if deadline is None:
            return QUIET_WAIT
        return max(0.0, min(QUIET_WAIT, deadline - time.monotonic()))

    # Loaded with the first QThread pyqtguard tracked (its end goes through
    # the bridge); not imported here (it imports pyqtguard.qt).
    guithread = sys.modules.get("pyqtguard.qt.guithread")
    if guithread is None:
        return False
    guard = _thread.allocate_lock()
    done = _thread.allocate_lock()
    done.acquire()
    late: list[bool] = []
    gui_native_id: list[int] = []

    def in_gui_thread() -> None:
        with guard:
            if late:
                return                  # given up on: PyQt6's clean-up may run now
            try:
                from PyQt6 import sip

                gui_native_id.append(_thread.get_native_id())
                stop_own_objects()
                bridge = getattr(guithread, "_bridge", None)
                if bridge is not None:
                    sip.transferto(bridge, None)
            except Exception:  # noqa: BLE001 - deleted meanwhile: nothing to stop
                pass
            finally:
                done.release()

    post_to_gui_thread = guithread.post_to_gui_thread
    kept = False
    try:
        posted = post_to_gui_thread(in_gui_thread)
        if posted and not done.acquire(timeout=QUIET_WAIT):
            with guard:
                late.append(True)       # a busy GUI thread: as before, nothing kept
            _log_given_up("did not answer")
            return False
        kept = posted
        if posted and post_to_gui_thread(done.release):
            # Disabling a notifier woke the loop once more (glib): a second
            # turn, waited for too, lets it take that wake-up now, not while
            # the dispatcher is destroyed (1 crash in 100 runs on a loaded
            # machine without it).
            if not done.acquire(timeout=QUIET_WAIT):
                _log_given_up("did not take the second turn")
            elif gui_native_id and not wait_until_blocked(gui_native_id[0], left()):
                _log_given_up("did not block in its event loop again")
    except Exception:  # noqa: BLE001 - the exit goes on as it would have
        pass
    return kept


def _log_given_up(what: str) -> None:
    """One line in the run log: the exit went on without the GUI thread's
    turn (a slot busy then, say); a crash in the GUI thread may follow."""
    try:
        from .. import logs as logfile

        logfile.log_event(f"pyqtguard: the interpreter is exiting in another thread and "
                          f"the GUI thread {what} in time (busy in a slot?): the exit goes "
                          "on without waiting for it")
    except Exception:  # noqa: BLE001 - never in the way of the exit
        pass


def wait_until_blocked(native_id: int, timeout: float = QUIET_WAIT) -> bool:
    """Linux: wait (at most *timeout* s) until the thread *native_id* - the
    GUI thread - blocks in its dispatcher's poll again.  Released from its
    last posted call, it still returns through the dispatcher (glib's
    iteration, Qt's timer sources), which PyQt6's clean-up frees next: a
    GUI thread not yet back in poll() crashed there (17 of 40 such exits on
    CPython 3.14, 3 of 360 loaded ones on 3.11; docs/hostile-review.md,
    session 23).  ``/proc/self/task/N/syscall`` names the call a thread is
    blocked in ("running" while it runs).  Elsewhere: nothing (other
    dispatchers; no such crash seen there).  False: not seen blocked in
    time; True otherwise (blocked, gone, or nothing to read).

    Example::

        wait_until_blocked(gui_native_id)   # the GUI thread's threading.get_native_id()
    """
    calls = _BLOCKING_CALLS.get(os.uname().machine) if sys.platform == "linux" else None
    if calls is None:
        return True
    path = f"/proc/self/task/{native_id}/syscall"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, "rb", buffering=0) as status:
                call = status.read(64).split(b" ", 1)[0]
        except OSError:
            return True                 # gone, or no /proc: as before
        if call in calls:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0002)
