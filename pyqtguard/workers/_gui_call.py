"""Call into the GUI thread from a worker and wait for the answer.

    >>> def export(rows, state):
    ...     overwrite = call_in_gui(ask_user, "Overwrite out.csv?", timeout=60)
    ...     ...

The function runs in the GUI thread (queued through the workers' hub); its
return value comes back, and so does its exception, raised in the caller.
After :func:`pyqtguard.shutdown` began, calls fail at once (RuntimeError)
instead of waiting for a GUI that is closing; so do calls waiting or made
once the interpreter exits (no event loop will answer them then), and in a
``fork()`` child of another thread than the GUI thread (the child has no
GUI thread).  From the GUI thread itself the function is simply called.
"""
from __future__ import annotations

import math
import os
import sys
import threading

from . import _events, _worker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


# Calls posted and not answered yet: failed if the interpreter exits first.
_waiting: set[_Call] = set()
# Why the GUI thread takes no more calls (the interpreter is exiting), or None.
_refused: str | None = None


_exit_hooked = False


def _no_gui_thread_here() -> bool:
    """In a fork child of another thread than the GUI thread: the note
    pyqtguard's own before-fork hook took in the parent (pyqtguard._forknote:
    by thread idents, no Qt call off the GUI thread).  Not asked of Qt in
    the child: there the first touch of Qt's and sip's pages cost each fork
    child 0.25-0.5 ms, also children that never use Qt."""
    from .._forknote import last_fork as note

    return note is not None and note[1] is False and note[0] != os.getpid()


def _forked() -> None:
    """In a fork child: the child has the forking thread alone.  Forked
    from another thread than the GUI thread, it has no GUI thread, and a
    call posted to the hub would wait for ever (timeout=None): refused at
    once, as at exit - also a call from a thread the child starts.  An app
    made later in the child is the child's own (the GUI thread is then
    here).  Qt is not asked here: the parent noted it (pyqtguard._forknote)."""
    global _refused
    _waiting.clear()                     # the parent's callers are not here
    if _refused is None and _no_gui_thread_here():   # (a grandchild: still none)
        _refused = "no GUI thread in this fork child (forked from another thread)"


if hasattr(os, "register_at_fork"):      # not on Windows
    os.register_at_fork(after_in_child=_forked)
# Imported for the first time in such a child: the hook above came too late.
_forked()


def _refuse_calls_at_exit() -> None:
    """threading's exit callback, run as the interpreter begins to wait for
    the non-daemon threads: no event loop runs again, so calls waiting fail
    now and later ones at once - a thread left waiting would hold that wait
    for good (and, with pyqtguard installed, end the app by its deadline)."""
    global _refused
    _refused = "the interpreter is exiting"
    for call in list(_waiting):
        call.fail(RuntimeError(f"{_refused}: the GUI thread takes no more calls"))


def _hook_exit() -> None:
    """Once, at the first call made from another thread: with or without
    install().  ``threading._register_atexit`` (3.9+; what
    concurrent.futures uses) runs before threading joins the threads."""
    global _exit_hooked
    if not _exit_hooked:
        _exit_hooked = True
        try:
            threading._register_atexit(_refuse_calls_at_exit)  # type: ignore[attr-defined]
        except RuntimeError:             # "can't register atexit after shutdown"
            _refuse_calls_at_exit()
        except AttributeError:
            pass                         # no such hook: calls wait as before
    else:
        _keep_exit_hook_last()


def _keep_exit_hook_last() -> None:
    """threading runs its exit callbacks last registered first, and
    concurrent.futures' joins its pool threads: registered after ours (its
    module imported after the first call from a thread), it waited for a
    pool thread waiting here, before ours could fail that call - for good.
    A pool thread's call comes after its pool's registration: at each call,
    ours is moved back to the end (an identity check when it is there)."""
    atexits = getattr(threading, "_threading_atexits", None)
    if (not isinstance(atexits, list) or not atexits
            or getattr(threading, "_SHUTTING_DOWN", True)):
        return                           # no such list, or the exit iterates it
    if _exit_entry[0] is None:
        # threading's entry wraps ours: a partial (3.11), a lambda (3.12+)
        for call in atexits:
            cells = getattr(call, "__closure__", None) or ()
            if getattr(call, "func", None) is _refuse_calls_at_exit or any(
                    _cell_is_ours(cell) for cell in cells):
                _exit_entry[0] = call
                break
        else:
            return
    entry = _exit_entry[0]
    if atexits[-1] is not entry and entry in atexits:
        atexits.remove(entry)
        atexits.append(entry)


def _cell_is_ours(cell: object) -> bool:
    try:
        return cell.cell_contents is _refuse_calls_at_exit  # type: ignore[attr-defined]
    except ValueError:                   # an empty cell
        return False


_exit_entry: list[object] = [None]       # threading's entry for ours, once found


class _Call:
    __slots__ = ("func", "args", "kwargs", "done", "result", "error")

    def __init__(self, func: Callable[..., object], args: tuple, kwargs: dict) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.done = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None

    def _deliver_batch(self, events: tuple) -> None:          # in the GUI thread
        try:
            if _worker._shutdown_began:
                # Queued before shutdown, delivered by its event processing:
                # a dialog here would hold shutdown past its timeout.
                raise RuntimeError("pyqtguard.shutdown() has begun: the GUI thread takes "
                                   "no calls")
            self.result = self.func(*self.args, **self.kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self.error = exc
        finally:
            self.done.set()

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


def call_in_gui(func: Callable[..., object], *args: object, timeout: float | None = 10.0,
                **kwargs: object) -> object:
    """Run ``func(*args, **kwargs)`` in the GUI thread; return its result.

    Raises its exception in the caller, TimeoutError when it has not
    finished within *timeout* seconds (None: wait as long as it takes),
    RuntimeError once shutdown has begun.
    """
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
        if timeout < 0 or (isinstance(timeout, float) and math.isnan(timeout)):
            raise ValueError(f"timeout must be >= 0 (or None), not {timeout!r}")
        if timeout > threading.TIMEOUT_MAX:
            timeout = None               # infinity, or beyond what a wait takes: no limit
    _events.hub()
    if _in_gui_thread():
        return func(*args, **kwargs)
    if _worker._shutdown_began:
        raise RuntimeError("pyqtguard.shutdown() has begun: the GUI thread takes no calls")
    _hook_exit()
    if _refused is not None:
        raise RuntimeError(f"{_refused}: the GUI thread takes no more calls")
    call = _Call(func, args, kwargs)
    _waiting.add(call)
    try:
        _events.post(call, "call")
        answered = call.done.wait(timeout)
    finally:
        _waiting.discard(call)
    if not answered:
        raise TimeoutError(f"{getattr(func, '__name__', func)!r} did not finish in the GUI "
                           f"thread within {timeout:g} s")
    if call.error is not None:
        raise call.error
    return call.result


def _in_gui_thread() -> bool:
    qtcore = sys.modules["PyQt6.QtCore"]
    app = qtcore.QCoreApplication.instance()
    return app is not None and qtcore.QThread.currentThread() is app.thread()
