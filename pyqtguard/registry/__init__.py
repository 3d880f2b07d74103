"""The thread registry: every thread under its name while it runs.
:mod:`.kinds` (what a thread is, recording it), :mod:`.tracking` (Python
threads; QThread tracking attached on first use), :mod:`.qthreads`
(QThread names, keep-alive, stop at exit), :mod:`.listing`
(``pyqtguard.threads()``, ``dump_threads()``).
C side: ``src/threadtable.c``, ``src/sipattach.c``, ``src/ownthread.c``.

This package's face records threads in the C table (what was ``registry.kinds``):

What a thread is, and recording the calling thread in the C thread table
(``src/threadtable.c``): shared by Python-thread and QThread tracking.

A signal handler cannot ask Python for a thread's name, so every thread is
recorded in ``_native``'s lock-free table when it starts, again when it is
renamed, and removed when it ends.  Kinds let reports tell thread sorts apart.

pyqtguard never imports :mod:`threading` itself while the app has not: its
import and its teardown cost a PyQt6 app about 2% of its start-up and exit,
and threading must first be imported by the main thread (it takes the
importing thread for the main one).  What pyqtguard does to threading
(its hooks, the thread tracking, the exit wrapper) is put in when the app
imports it; meanwhile the locks and idents come from :mod:`_thread`, and
:func:`loaded_threading` tells whether threading is there.
"""
from __future__ import annotations

import _thread
import os
import sys

from .. import _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

KIND_PYTHON = 0
KIND_MAIN = 1
KIND_QTHREAD = 2
KIND_POOL = 3
KIND_NATIVE = 4

MAIN_THREAD_NAME = "MainThread"          # threading's name for it

# The thread that first imported pyqtguard's registry: the main thread when
# threading is not imported (no other thread can run Python then, short of
# _thread.start_new_thread).
_first_ident = _thread.get_ident()
# threading was imported before (then its main thread is the one that
# imported it, the main thread at start-up).  Imported later, by a thread Qt
# started (an import of logging in a paint() in Qt Quick's render thread),
# CPython 3.11-3.12's threading takes that thread for the main one.
_threading_before = "threading" in sys.modules


def renewed_in_fork_children(lock: Any) -> Any:
    """*lock*, made anew in ``fork()`` children; returns it.

    A fork copies only the forking thread, with every lock as it was: one
    another thread held stays held in the child for ever.  pyqtguard's
    module-level locks are made anew there, as ``logging`` does its own
    (``_at_fork_reinit``: the hook holds the lock alone, not its module).

    Example::

        _lock = renewed_in_fork_children(_thread.allocate_lock())
    """
    if hasattr(os, "register_at_fork"):              # not on Windows
        os.register_at_fork(after_in_child=lock._at_fork_reinit)
    return lock


# The native id of the thread that forks, noted just before each fork (a
# plain store): in the child, the one thread it has (:func:`forking_native_id`).
_forking_native_id: int | None = None


def _note_forking_thread() -> None:
    global _forking_native_id
    _forking_native_id = _thread.get_native_id()


if hasattr(os, "register_at_fork"):                  # not on Windows
    os.register_at_fork(before=_note_forking_thread)


def forking_native_id() -> int | None:
    """In a ``fork()`` child (an after-in-child hook): the native id, in the
    parent, of the thread that forked - the only one the child has; the
    parent's records of any other thread are not the child's.

    Example::

        def _forked():
            for record in records:
                record.not_here = record.native_id != forking_native_id()
    """
    return _forking_native_id


def main_thread_elsewhere(native_id: int | None) -> bool:
    """The registry's main thread (named at install()) is another than
    *native_id*'s: threading took that one for the main thread, a thread Qt
    started having imported it first (Qt Quick's render thread in a paint())."""
    return any(kind == KIND_MAIN and main_id != native_id
               for main_id, _ident, _name, kind in _native.thread_table())


def loaded_threading() -> Any:
    """The :mod:`threading` module if the app has imported it, else None
    (never imports it: see the module's docstring)."""
    return sys.modules.get("threading")


def in_main_thread() -> bool:
    """Whether the caller is the main thread, without importing threading
    (and without making a placeholder Thread for a foreign thread)."""
    threading = loaded_threading()
    if threading is not None and _threading_before:
        return _thread.get_ident() == threading.main_thread().ident
    return _thread.get_ident() == _first_ident


# Frames start_site() looks past: threading's own, an executor's, and every
# frame of pyqtguard's own (its thread tracking; its exec() wrapper, the
# nearest Python frame when a signal starts a thread:
# clicked.connect(thread.start)).
# Files whose frames are not a thread's start site: threading itself and the
# standard library's objects that start a thread at their first use (an
# executor's workers, a process pool's manager, a pool's handlers, a queue's
# feeder) - the app's line that used the object is.
THREAD_STARTER_FILES = ("threading.py", os.path.join("concurrent", "futures", "thread.py"),
                        os.path.join("concurrent", "futures", "process.py"),
                        os.path.join("multiprocessing", "pool.py"),
                        os.path.join("multiprocessing", "queues.py"))
OWN_FILES = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _not_a_start_site(filename: str) -> bool:
    return filename.endswith(THREAD_STARTER_FILES) or filename.startswith(OWN_FILES)


def start_site(depth: int = 2) -> str | None:
    """``"file.py:12"`` of the caller's caller, skipping threading's own
    frames (a Timer, an executor, a pool, a queue) and pyqtguard's; for a
    thread one of those started from a thread of its own (a process pool's
    queue feeder, started by its manager thread), the innermost frame that
    is not threading's or pyqtguard's."""
    try:
        start = sys._getframe(depth)
    except ValueError:
        return None
    frame = (_first_frame_not_in(start, _not_a_start_site)
             or _first_frame_not_in(start, _threading_or_own))
    if frame is None:
        return None
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _threading_or_own(filename: str) -> bool:
    return filename.endswith("threading.py") or filename.startswith(OWN_FILES)


def _first_frame_not_in(frame: Any, skipped: Callable[[str], bool]) -> Any:
    """*frame* or the first of its callers whose file *skipped* does not match."""
    while frame is not None and skipped(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def register_current(name: str, kind: int = KIND_PYTHON, site: str | None = None) -> None:
    """Record the calling thread under *name*, started at *site* (written
    with the name by the C core's reports: a crash's, and those written
    when Python cannot answer); never raises."""
    try:
        _native.thread_register_current(name, kind, site)
    except UnicodeEncodeError:
        # A lone surrogate (a file name os.listdir() decoded with
        # surrogateescape): recorded under an escaped name - unrecorded, it
        # was also left out of check_threads.
        try:
            _native.thread_register_current(
                name.encode("utf-8", "backslashreplace"), kind,
                None if site is None else site.encode("utf-8", "backslashreplace"))
        except Exception:  # noqa: BLE001
            pass
    except Exception:  # noqa: BLE001 - odd names degrade, never crash
        pass


def unregister_current() -> None:
    _native.thread_unregister_current()
