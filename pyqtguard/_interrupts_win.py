"""Windows: Ctrl+C ends a PyQt6 app while its event loop waits (the policy
is :mod:`pyqtguard.interrupts`'; this module is its Windows wake-up).

Windows has no sigaction.  CPython's SIGINT handler runs in the console's
control-handler thread (the C runtime's ``signal()`` on top of
``SetConsoleCtrlHandler``): it marks the signal for the main thread's next
bytecode, sets the event ``time.sleep`` waits on, and writes the signal's
number to Python's wake-up socket (``signal.set_wakeup_fd``: a socket only,
on Windows).  While the application's loop runs - and only where the app
left SIGINT to Python's default handler and set no wake-up descriptor -
pyqtguard points the wake-up at a socket pair of its own whose read end a
``QSocketNotifier`` watches in the GUI thread, and puts in a Python handler
(:func:`_handler`) for ``default_int_handler``, which would raise
``KeyboardInterrupt`` inside whichever slot runs first:

- the first Ctrl+C wakes the loop at once (the notifier); the handler runs
  at the first bytecode the main thread runs - the notifier's slot, or a
  slot already running - and only counts it.  The slot closes the app as on
  Linux, and ``exec()`` raises ``KeyboardInterrupt``;
- a second one (while closing, or while the GUI thread never got to the
  first) ends the process when the main thread next runs Python code: the
  Python stacks go to the run log and stderr, exit status 0xC000013A
  (STATUS_CONTROL_C_EXIT, Python's for an uncaught Ctrl+C).  A GUI thread
  stuck in native code runs no handler: there the second Ctrl+C waits, as
  it does without pyqtguard (Linux's handler is C and ends it at once).

Ctrl+Break (SIGBREAK) and closing the console window are left alone (Wine 8
cannot send Ctrl+Break: untested).
"""
from __future__ import annotations

import os
import signal
import socket
import sys

from . import _native
from . import logs as logfile
from .registry import in_main_thread

STATUS_CONTROL_C_EXIT = -1073741510         # 0xC000013A, as os._exit takes it

_sockets: tuple[socket.socket, socket.socket] | None = None   # kept for the process's life
_active = False          # our handler and wake-up are in place
_waking = False          # the wake-up points at our socket
_count = 0               # Ctrl+C seen by the handler since arm() or reset()
_to_stderr = True


def configure(to_stderr: bool) -> None:
    global _to_stderr
    _to_stderr = to_stderr


def read_socket() -> int:
    """The read end's descriptor, for the QSocketNotifier (made once, never
    closed: the control-handler thread may write to it at any time)."""
    global _sockets
    if _sockets is None:
        read_end, write_end = socket.socketpair()
        read_end.setblocking(False)
        write_end.setblocking(False)
        _sockets = (read_end, write_end)
    return _sockets[0].fileno()


def arm() -> bool:
    """Put in the handler and the wake-up (main thread) where the app left
    SIGINT and the wake-up alone; False (nothing changed) if it did not."""
    global _active, _waking, _count
    current = signal.getsignal(signal.SIGINT)
    if current is not _handler:
        if current is not signal.default_int_handler:
            return False
    read_socket()
    assert _sockets is not None
    previous = signal.set_wakeup_fd(_sockets[1].fileno(), warn_on_full_buffer=False)
    if previous not in (-1, _sockets[1].fileno()):
        signal.set_wakeup_fd(previous)               # the app's own: left alone
        return False
    if current is not _handler:
        signal.signal(signal.SIGINT, _handler)
    _count = 0
    _active = _waking = True
    return True


def received() -> int:
    """SIGINT if a Ctrl+C came since arm() or reset(), else 0."""
    return signal.SIGINT if _count else 0


def reset() -> None:
    """The app refused to close: the next Ctrl+C is a first one again."""
    global _count
    _count = 0


def drain() -> None:
    if _sockets is None:
        return
    try:
        while _sockets[0].recv(256):
            pass
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:
        pass


def stop_waking() -> None:
    """Closing: the loop no longer reads the socket; the handler stays, for a
    second Ctrl+C during the exit."""
    global _waking
    if _waking and in_main_thread():
        _wake_off()
        _waking = False


def disarm() -> int:
    """Python's handler and no wake-up again (from the main thread; from
    another the handler stays and acts as Python's).  Returns SIGINT if a
    Ctrl+C came that the loop never took, else 0."""
    global _active, _waking, _count
    got = received()
    _active = False
    _count = 0
    if in_main_thread():
        if _waking:
            _wake_off()
        if signal.getsignal(signal.SIGINT) is _handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        _waking = False
    return got


def deliver_again() -> None:
    """A Ctrl+C not taken before uninstall(): to Python's handler, now back."""
    signal.raise_signal(signal.SIGINT)


def _wake_off() -> None:
    """No wake-up descriptor, unless the app set one of its own meanwhile."""
    previous = signal.set_wakeup_fd(-1)
    if _sockets is not None and previous not in (-1, _sockets[1].fileno()):
        signal.set_wakeup_fd(previous)


def _handler(signum: int, frame: object) -> None:
    """SIGINT while armed, in the main thread at its next bytecode."""
    global _count
    if not _active:             # disarmed from another thread: Python's behaviour
        signal.default_int_handler(signum, frame)
        return
    _count += 1
    if _count > 1:
        _end_now()


def _thread_report() -> str:
    """The thread table with each thread's Python stack, as ``pyqtguard
    dump`` writes it (names escaped, kinds, start sites; the main
    interpreter's frames only)."""
    from .registry import listing

    return listing.format_table(listing.threads(stacks=True))


def _end_now() -> None:
    """A second Ctrl+C: the Python stacks, then the end, at once."""
    try:
        text = ("pyqtguard: Ctrl+C again: ending the process at once (exit status 0xC000013A); "
                "the threads and their Python stacks:\n" + _thread_report())
        logfile.log_event(text)
        if _to_stderr and sys.stderr is not None:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
    finally:
        os._exit(STATUS_CONTROL_C_EXIT)
