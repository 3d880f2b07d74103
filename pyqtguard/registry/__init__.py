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
"""
from __future__ import annotations

import os
import sys

from .. import _native

KIND_PYTHON = 0
KIND_MAIN = 1
KIND_QTHREAD = 2
KIND_POOL = 3
KIND_NATIVE = 4


# Frames start_site() looks past: threading's own, an executor's, and every
# frame of pyqtguard's own (its thread tracking; its exec() wrapper, the
# nearest Python frame when a signal starts a thread:
# clicked.connect(thread.start)).
_NOT_START_SITES = ("threading.py", os.path.join("concurrent", "futures", "thread.py"))
_OWN_FILES = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _not_a_start_site(filename: str) -> bool:
    return filename.endswith(_NOT_START_SITES) or filename.startswith(_OWN_FILES)


def start_site(depth: int = 2) -> str | None:
    """``"file.py:12"`` of the caller's caller, skipping threading's own
    frames (a Timer, an executor) and pyqtguard's."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    while frame is not None and _not_a_start_site(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return None
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def register_current(name: str, kind: int = KIND_PYTHON) -> None:
    """Record the calling thread under *name*; never raises."""
    try:
        _native.thread_register_current(name, kind)
    except Exception:  # noqa: BLE001 - odd names degrade, never crash
        pass


def unregister_current() -> None:
    _native.thread_unregister_current()
