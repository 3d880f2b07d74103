"""The note pyqtguard takes in the parent just before each ``fork()``, for
the child.  Imported by the package itself, so that it is taken in every
process that imported pyqtguard (a module first imported in the child
would have noted nothing).

A module of its own: the hook CPython keeps to the interpreter's end holds
its module's globals, and the package's would have kept every loaded
pyqtguard module (its attributes) alive past the interpreter's clearing of
modules - 0.3 million more instructions at every exit.
"""
from __future__ import annotations

import _thread
import os
import sys

# (pid of the process that forked, whether its forking thread was the GUI
# thread - None without a QCoreApplication -, how many threads of Qt's
# global pool ran a task), noted in the parent just before each fork, for
# the child: call_in_gui (workers/_gui_call.py) - a child of another thread
# has no GUI thread - and the exit report (watchdog/exit.py) - the child
# copies the pool's count of busy threads, not the threads, and Qt's
# application destructor waits for them.  PyQt6 is not imported, only looked up;
# and no Qt call is made from a thread other than the GUI thread: there
# QThread.currentThread() adopts the thread, and a fork child of such a
# thread then hung in its first exception report (3.13: 1-3 children of
# 15 runs of 20).
last_fork: tuple[int, bool | None, int] | None = None


def _in_gui_thread() -> bool | None:
    """Whether the calling thread is the GUI thread, known without asking
    Qt: the thread running the application's event loop (pyqtguard.qt
    notes it), else the main thread, where PyQt6 apps make their
    QApplication; None when nothing tells."""
    qt_attach = sys.modules.get("pyqtguard.qt")
    loop = qt_attach.loop_thread_ident() if qt_attach is not None else None
    if loop is not None:
        return loop == _thread.get_ident()
    registry = sys.modules.get("pyqtguard.registry")
    if registry is not None:
        return bool(registry.in_main_thread())
    threading = sys.modules.get("threading")
    if threading is not None:
        return threading.main_thread().ident == _thread.get_ident()
    return None


def _note_fork() -> None:
    global last_fork
    in_gui, pool_busy = None, 0
    try:
        qtcore = sys.modules.get("PyQt6.QtCore")
        if qtcore is not None and qtcore.QCoreApplication.instance() is not None:
            in_gui = _in_gui_thread()
            if in_gui:                          # the GUI thread's own Qt calls
                pool_busy = qtcore.QThreadPool.globalInstance().activeThreadCount()
    except Exception:  # noqa: BLE001 - never fail a fork; calls then wait as before
        pass
    last_fork = (os.getpid(), in_gui, pool_busy)


if hasattr(os, "register_at_fork"):      # not on Windows
    os.register_at_fork(before=_note_fork)
