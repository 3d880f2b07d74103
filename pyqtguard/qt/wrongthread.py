"""``install(check_threads=True)`` (or ``PYQTGUARD_CHECK_THREADS=1``): a Qt
widget or pixmap used from a thread other than the GUI thread is reported.

Qt widgets belong to the GUI thread, and a release build of Qt does not
check: ``label.setText()`` from a worker works a thousand times and crashes
the app on the next, far from the cause.  With the check on, each thread
started after :func:`pyqtguard.install` (Python threads, QThreads, pool
threads of :mod:`pyqtguard.workers`) watches the C calls it makes
(``src/widgetcheck.c``); the first call of a widget's method from each line
is reported in the run log and on stderr, with the thread's name and the
app's Python stack::

    pyqtguard: Qt widget used outside the GUI thread: QLabel.setText() called
    in thread 'fetcher'; widgets may be used only in the GUI thread (emit a
    signal connected to a slot that updates the widget)

A debugging aid, off by default: a checked thread pays a type check on each
call of a C function (the GUI thread nothing on 3.11; from 3.12, while a
checked thread runs, CPython's instrumentation for it slows every thread's
Python calls, the GUI thread's too).  Threads already running at
``install()`` are not checked; a thread running a profiler keeps it.

Example::

    import pyqtguard
    pyqtguard.install(check_threads=True)
"""
from __future__ import annotations

import _thread
import sys

from .. import _native
from .. import logs as logfile
from . import loop_thread_ident, when_imported

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

    from ..config import Config

_on = False
_stderr = True
_listeners: list[Callable[[str], object]] = []


def add_listener(listener: Callable[[str], object]) -> None:
    """Call ``listener(text)`` with each report, in the thread that made the
    wrong call (pyqtguard's pytest plugin fails the test with it)."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_listener(listener: Callable[[str], object]) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def forget_reported() -> None:
    """Report each calling line again from now on (a new test)."""
    _native.forget_widget_reports()


def _report(cls: type, method: str) -> None:
    """Called by the C check in the thread that made the call."""
    from ..exceptions import delivery
    from ..registry.frames import format_call_site

    if _thread.get_ident() == loop_thread_ident():
        return                          # the GUI thread runs outside the main one
    stack = format_call_site(sys._getframe(0).f_back)
    name = delivery._describe_current_thread()[:200]
    kind = str(getattr(cls, "__name__", "?"))[:200]      # an app's class may be named anything
    kind = kind if kind.isidentifier() else repr(kind)
    text = (f"Qt widget used outside the GUI thread: {kind}.{method}() called in "
            f"thread {name!r}; widgets may be used only in the GUI thread (emit a signal "
            "connected to a slot that updates the widget)")
    full = f"{text}; at (most recent call last):\n{stack.rstrip()}"
    logfile.log_event(full, report=True)
    for listener in list(_listeners):
        try:
            listener(full)
        except Exception:  # noqa: BLE001 - a listener's failure is not the app's
            pass
    stream = sys.stderr
    if _stderr and stream is not None:
        copy = f"pyqtguard: {text}\n{stack}"
        try:
            # A stream the app put in stderr's place may be a widget (a
            # console pane): written from this thread, the report would be
            # the very call it reports.  The GUI thread writes it, as it
            # does exception reports' copies.
            if stream is not sys.__stderr__ and delivery._post_stderr_copy(copy):
                return
            stream.write(copy)
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed stderr must not matter
            pass


def _start_checking(module: ModuleType) -> None:
    if not _on:
        return
    checked = [module.QWidget]
    qtgui = sys.modules.get("PyQt6.QtGui")
    if qtgui is not None:
        checked.append(qtgui.QPixmap)
    _native.check_widget_threads(tuple(checked), _report)
    _wrap_qthread_init()


# QThread.__init__ while checking: QThread's own (sip's) and ours.
_qthread_init: tuple[Any, Any] | None = None


def _wrap_qthread_init() -> None:
    """A QThread records itself (and is checked) in its ``started`` slot.  Qt
    calls the slots in the order they were connected: the worker pattern's
    ``thread.started.connect(worker.run)`` before ``start()`` - where
    pyqtguard connected its own - ran the whole work before the thread was
    checked.  So while checking, QThreads get pyqtguard's slots as they are
    made, before the app can connect any."""
    global _qthread_init
    qtcore = sys.modules.get("PyQt6.QtCore")
    if qtcore is None or _qthread_init is not None:
        return
    cls = qtcore.QThread
    try:
        if "__init__" in _native.type_dict(cls):
            return                      # someone's own: left alone
        original = cls.__init__
        from PyQt6 import sip

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            try:
                # sip wraps Qt's own QThreads (the main thread's, one a
                # Python thread adopts) through __init__ too: those are not
                # started from Python, and their `finished` comes at the
                # process's exit, after the interpreter's end.
                if sip.ispycreated(self):
                    from ..registry import qthreads

                    qthreads.connect_slots(self)
            except Exception:  # noqa: BLE001 - the check degrades, the thread must not
                pass

        cls.__init__ = __init__
        _qthread_init = (original, __init__)
    except Exception:  # noqa: BLE001 - checked from start() on, as before
        pass


def _unwrap_qthread_init() -> None:
    global _qthread_init
    qtcore = sys.modules.get("PyQt6.QtCore")
    if _qthread_init is None or qtcore is None:
        return
    if _native.type_dict(qtcore.QThread).get("__init__") is _qthread_init[1]:
        del qtcore.QThread.__init__
    _qthread_init = None


def install(config: Config) -> None:
    """Check threads started from now on once ``PyQt6.QtWidgets`` is imported."""
    global _on, _stderr
    _on, _stderr = True, config.stderr
    when_imported("PyQt6.QtWidgets", _start_checking)


def uninstall() -> None:
    global _on
    _on = False
    _native.check_widget_threads(None, None)
    _unwrap_qthread_init()
