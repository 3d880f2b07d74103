"""Attaching to Qt without importing it: when PyQt6 is imported, when its
event loop starts and ends (:mod:`.attach`), and calls posted to the GUI
thread (:mod:`.guithread`).  C side: ``src/sipattach.c``.

This package's face is the attachment itself (what was ``qt.attach``):

How pyqtguard attaches to Qt: when PyQt6 is imported, when the
application's event loop starts and ends, and how to reach the GUI thread.

Importing pyqtguard never imports PyQt6.  Components register a callback with
:func:`when_qt_imported`; it runs at once if ``PyQt6.QtCore`` is already
imported, otherwise right after its import (a ``sys.meta_path`` finder wraps
its loader), whichever comes first.

:func:`on_loop_started` and :func:`on_loop_ended` listeners run just before
the main event loop starts and right after it ends: ``QCoreApplication.exec``,
``QGuiApplication.exec`` and ``QApplication.exec`` are wrapped, each when its
module is imported.  Freeze detection starts with the loop; bounded shutdown
begins when it ends.  Listeners with ``top_level=True`` also hear a loop in
its place (a top-level ``dialog.exec()``: :mod:`.toplevel`).

:func:`post_to_gui_thread` is the one safe way to run a function in the GUI
thread from any thread.
"""
from __future__ import annotations

import _thread
import _weakref
import os
import sys

from .. import _native
from ..registry import in_main_thread

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and importlib.abc cost start-up time: not at run time
    from collections.abc import Callable
    from importlib.machinery import ModuleSpec
    from types import FrameType, ModuleType, TracebackType
    from typing import Any

QTCORE = "PyQt6.QtCore"

_callbacks: list[Callable[[ModuleType], None]] = []
_lock = _thread.RLock()
# Other PyQt6 modules (QtGui, QtWidgets) a component wants to patch: name ->
# callbacks, run right after that module's import (or at once if imported).
_module_callbacks: dict[str, list[Callable[[ModuleType], None]]] = {}


def _run(callback: Callable[[ModuleType], None], qtcore: ModuleType) -> None:
    try:
        callback(qtcore)
    except Exception as exc:  # noqa: BLE001 - never break the app's import
        from ..logs import warn_once

        warn_once(f"qtattach:{callback!r}", f"a Qt attachment failed: {exc!r}")


def when_qt_imported(callback: Callable[[ModuleType], None]) -> None:
    """Run ``callback(PyQt6.QtCore)`` now if Qt is imported, else once it is."""
    with _lock:
        qtcore = sys.modules.get(QTCORE)
        if qtcore is None:
            _callbacks.append(callback)
            _ensure_finder()
            return
    _run(callback, qtcore)


def when_imported(name: str, callback: Callable[[ModuleType], None]) -> None:
    """Run ``callback(module)`` once the PyQt6 module *name* is imported."""
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _module_callbacks.setdefault(name, []).append(callback)
            _ensure_finder()
            return
    _run(callback, module)


def _fire(module: ModuleType) -> None:
    with _lock:
        callbacks = _module_callbacks.pop(module.__name__, [])
        if module.__name__ == QTCORE:
            callbacks, _callbacks[:] = list(_callbacks) + callbacks, []
        if not _callbacks and not _module_callbacks:
            _remove_finder()
    for callback in callbacks:
        _run(callback, module)


class _LoaderProxy:
    """Runs the real loader, then the callbacks (a duck-typed Loader)."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        # The real loader goes back into the module's spec: the proxy's work
        # is done, and extension modules live to the very end of the
        # process - a proxy held there would keep this package (and what it
        # imports) alive through the interpreter's teardown.
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        self._loader.exec_module(module)
        _fire(module)


class _QtCoreFinder:
    """Finds nothing itself; wraps the real loader of PyQt6.QtCore."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != QTCORE and fullname not in _module_callbacks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _LoaderProxy(spec.loader)
                return spec
        return None


_finder = _QtCoreFinder()


def _ensure_finder() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def _remove_finder() -> None:
    try:
        sys.meta_path.remove(_finder)
    except ValueError:
        pass


def check_already_imported() -> None:
    """Fire pending callbacks if Qt was imported behind the finder's back."""
    qtcore = sys.modules.get(QTCORE)
    if qtcore is not None and _callbacks:
        _fire(qtcore)
    for name in list(_module_callbacks):
        module = sys.modules.get(name)
        if module is not None:
            _fire(module)


# ---- the application's event loop ------------------------------------------

_APP_CLASSES = {
    "PyQt6.QtCore": "QCoreApplication",
    "PyQt6.QtGui": "QGuiApplication",
    "PyQt6.QtWidgets": "QApplication",
}
# Classes whose calls run a loop in the application's place (.toplevel), by
# module, with a name sip's completed class has; a base class's sip getter
# serves its subclasses (QDialog's: the dialogs').
_STARTER_CLASSES = {
    "PyQt6.QtCore": (("QEventLoop", "exec"),),
    "PyQt6.QtGui": (("QDrag", "exec"),),
    "PyQt6.QtWidgets": (("QDialog", "exec"), ("QMessageBox", "question"),
                        ("QFileDialog", "getOpenFileName"), ("QInputDialog", "getText"),
                        ("QColorDialog", "getColor"), ("QFontDialog", "getFont"),
                        ("QMenu", "exec")),
    "PyQt6.QtPrintSupport": (("QPrintDialog", "exec"), ("QPageSetupDialog", "exec")),
}
# The starter classes given a sip getter; sip keeps a getter for the
# process's life (uninstall() cannot take it back), and calls it for the
# subclasses too.
_with_getter: list[Any] = []
_loop_started: list[Callable[[], None]] = []
_loop_ended: list[Callable[[], None]] = []
_top_started: list[Callable[[], None]] = []     # those also for a loop in its place
_top_ended: list[Callable[[], None]] = []
_original_execs: dict[Any, Any] = {}
_wrappers: dict[Any, Any] = {}           # class -> the staticmethod put in its dict
_loop_depth = 0
# _thread.get_ident() of the thread running the main event loop, while it
# runs (None otherwise): what is posted to the GUI thread runs only then.
_loop_ident: int | None = None


# False in a fork child of a thread other than the one running the loop: the
# GUI thread was not copied, and what is posted to it would never run.
_gui_thread_here = True
_fork_hook_registered = False


def loop_thread_ident() -> int | None:
    """``_thread.get_ident()`` of the thread running the application's main
    event loop (or one in its place), while it runs; None otherwise."""
    return _loop_ident


def gui_thread_here() -> bool:
    """False in a ``fork()`` child of another thread than the one that ran
    the application's event loop: nothing posted to the GUI thread runs
    there (the child has only the forking thread)."""
    return _gui_thread_here


def _loop_starts_here() -> int:
    """The current thread's ident, noted as the loop's by the caller; the
    fork hook that checks it is registered at the first loop."""
    global _gui_thread_here, _fork_hook_registered
    _gui_thread_here = True
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forked)
        _fork_hook_registered = True
    return _thread.get_ident()


def _forked() -> None:
    """In a fork child: a loop another thread ran is not here (the forking
    thread keeps its ident in the child)."""
    global _loop_depth, _loop_ident, _gui_thread_here
    if _loop_ident is not None and _loop_ident != _thread.get_ident():
        _loop_depth, _loop_ident, _gui_thread_here = 0, None, False


def on_loop_started(callback: Callable[[], None], top_level: bool = False) -> None:
    """Run *callback* just before the application's main event loop starts
    (``top_level=True``: also a loop in its place, see :mod:`.toplevel`)."""
    _listen(_loop_started, callback, _top_started if top_level else None)


def on_loop_ended(callback: Callable[[], None], top_level: bool = False) -> None:
    """Run *callback* right after the application's main event loop ends
    (``top_level=True``: also a loop in its place)."""
    _listen(_loop_ended, callback, _top_ended if top_level else None)


def _listen(listeners: list[Callable[[], None]], callback: Callable[[], None],
            top: list[Callable[[], None]] | None) -> None:
    _watch_event_loops()
    for known in (listeners, top) if top is not None else (listeners,):
        if callback not in known:
            known.append(callback)
    if top is not None and not _watching_top_level_loops:
        _watch_top_level_loops()


def in_top_level_loop() -> bool:
    """Whether a loop in the application's place runs now (:mod:`.toplevel`)."""
    toplevel = sys.modules.get(__name__ + ".toplevel")
    return toplevel is not None and toplevel.running is not None


def top_level_loop(starting: bool) -> bool:
    """For :mod:`.toplevel`: a loop in the application's place starts (True
    if the GUI thread runs none yet; its listeners have then run) or ends."""
    global _loop_depth, _loop_ident
    if not starting:
        _loop_depth, _loop_ident = 0, None
        _notify(_top_ended)
        return False
    if _loop_depth or not in_main_thread():
        return False
    _loop_depth, _loop_ident = 1, _loop_starts_here()
    try:
        _notify(_top_started)
    except BaseException:
        top_level_loop(False)
        raise
    return True


def _notify(callbacks: list[Callable[[], None]]) -> None:
    ending: BaseException | None = None
    for callback in list(callbacks):
        try:
            callback()
        except Exception as exc:  # noqa: BLE001 - never break the app's exec()
            from ..logs import warn_once

            warn_once(f"eventloop:{callback!r}", f"{callback!r} failed: {exc!r}")
        except BaseException as exc:  # noqa: BLE001
            # KeyboardInterrupt or SystemExit on purpose (pyqtguard.interrupts):
            # raised out of exec() once every other callback has run.
            ending = ending or exc
    global _carried, _carried_out
    carried, _carried = _carried, None
    if ending is not None:
        global _raised_out_of_exec
        _raised_out_of_exec = ending
        raise ending.with_traceback(None)
    if carried is not None:
        _carried_out = carried
        raise carried                   # its traceback: the signal handler's frames


# A signal handler's exception that ended the loop (pyqtguard.interrupts),
# raised out of the exec() that ran it once the listeners have run; and the
# last one raised so (its pyqtguard frames hidden from pytest).
_carried: BaseException | None = None
_carried_out: BaseException | None = None


def carry_out_of_exec(exc: BaseException) -> None:
    """Raise *exc* out of the ``exec()`` that ends now, as Python raises a
    signal handler's exception where the main thread was - here, in the
    loop - once every listener of its end has run."""
    global _carried
    _carried = exc


# The KeyboardInterrupt or SystemExit that exec() raises on purpose (see
# _notify and pyqtguard.interrupts); reports show its traceback up to the
# app's exec() call (shown_traceback).
_raised_out_of_exec: BaseException | None = None


def raised_on_purpose(exc: BaseException | None) -> bool:
    """Whether *exc* is the KeyboardInterrupt or SystemExit that pyqtguard
    raised out of an ``exec()`` (a signal during the loop)."""
    return exc is not None and exc is _raised_out_of_exec


def __tracebackhide__(excinfo: Any) -> bool:
    """pytest's hook for helpers' frames (it reads this name from a frame's
    globals): the exception pyqtguard raises out of ``exec()`` on purpose
    is shown at the test's call - pytest's KeyboardInterrupt line names
    the test's wait, not this module; any other exception keeps
    pyqtguard's frames (a bug of pyqtguard's must show where it is)."""
    value = getattr(excinfo, "value", None)
    return excinfo is not None and (raised_on_purpose(value)
                                    or (value is not None and value is _carried_out))


def shown_traceback(exc: BaseException | None, tb: TracebackType | None
                    ) -> TracebackType | None:
    """*tb* as a report shows it.  For the KeyboardInterrupt or SystemExit
    that pyqtguard's ``exec()`` wrapper raises on purpose, it ends at the
    app's ``exec()`` call, where Python's own handler would have raised it:
    the wrapper's frames are pyqtguard's, no news to the app.  Any other
    exception's traceback is *tb*, pyqtguard's frames included (a bug of
    pyqtguard's must show where it is)."""
    if tb is None or not raised_on_purpose(exc):
        return tb
    from ..registry.frames import app_frames

    entries = []
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    shown = None
    for index in reversed(app_frames([entry.tb_frame.f_code.co_filename for entry in entries],
                                     where_it_is=False)):
        entry = entries[index]              # a new chain: the exception's own is left as it is
        shown = type(entry)(shown, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return shown


def run_by_asyncio(caller: FrameType | None) -> bool:
    """Whether an asyncio loop runs this thread's event loop now - qasync,
    whose every ``run_until_complete`` (and ``run_forever``) is one
    ``exec()``: the app's loop is then asyncio's, and the end of one such
    ``exec()`` is no end of the app (its shutdown begins when the
    interpreter exits).  Its start and end are told to the listeners of
    loops in the application's place (``top_level=True``).

    *caller* is the frame that called ``exec()``: the running loop's own
    ``run_forever``.  An ``app.exec()`` in a coroutine of ``asyncio.run()``
    is the app's loop, which asyncio's only waits for."""
    events = sys.modules.get("asyncio.events")
    loop = events._get_running_loop() if events is not None else None
    if loop is None or caller is None:
        return False
    run_forever = getattr(type(loop), "run_forever", None)
    return getattr(run_forever, "__code__", None) is caller.f_code


def _wrap_exec(cls: Any) -> None:
    descriptor = cls.__dict__.get("exec")
    if descriptor is None or cls in _original_execs:
        return
    original = getattr(cls, "exec")      # the static method, callable

    def exec() -> int:  # noqa: A001 - the name PyQt6 uses
        global _loop_depth, _loop_ident
        if _wrappers.get(cls) is not wrapper:
            # Unwrapped since, but left inside a wrapper another tool put
            # over it (see unwrap_event_loops): only call on.
            return original()  # type: ignore[no-any-return]
        _loop_depth += 1
        asyncio_turn = False
        if _loop_depth == 1:
            _loop_ident = _loop_starts_here()
            asyncio_turn = run_by_asyncio(sys._getframe(1))
            _notify(_loop_started)
        try:
            return original()  # type: ignore[no-any-return]
        finally:
            _loop_depth -= 1
            if _loop_depth == 0:
                _loop_ident = None
                _notify(_top_ended if asyncio_turn else _loop_ended)

    exec.__doc__ = getattr(original, "__doc__", None)
    wrapper = staticmethod(exec)
    _original_execs[cls] = descriptor
    _wrappers[cls] = wrapper
    cls.exec = wrapper


def _attach_app_class(module: ModuleType) -> None:
    cls = getattr(module, _APP_CLASSES[module.__name__], None)
    if cls is not None:
        _wrap_exec(cls)


def _starter_class_completed(cls: Any, type_dict: dict[str, Any] | None) -> None:
    if not _watching_top_level_loops:
        return                                  # uninstalled since
    from . import toplevel

    toplevel.wrap(cls, type_dict, top_level_loop)


def _attach_loop_starters(module: ModuleType) -> None:
    """Wrap each starter class when sip completes it (at once if it has)."""
    for class_name, marker in _STARTER_CLASSES[module.__name__]:
        cls = getattr(module, class_name, None)
        if cls is None:
            continue
        getter = not any(issubclass(cls, base) for base in _with_getter)
        if marker in _native.type_dict(cls) or not _native.when_class_completes(
                cls, lambda type_dict, cls=cls: _starter_class_completed(cls, type_dict),
                getter):
            _starter_class_completed(cls, None)
        elif getter:
            _with_getter.append(cls)


_watching_event_loops = False
_watching_top_level_loops = False


def _watch_event_loops() -> None:
    """Wrap each application class's exec() when its module is imported (at
    once if it is); once, however many listeners register."""
    global _watching_event_loops
    if _watching_event_loops:
        return
    _watching_event_loops = True
    for name in _APP_CLASSES:
        when_imported(name, _attach_app_class)


def _watch_top_level_loops() -> None:
    global _watching_top_level_loops
    if _watching_top_level_loops:
        return
    _watching_top_level_loops = True
    for name in _STARTER_CLASSES:
        when_imported(name, _attach_loop_starters)


# The application whose exec() already ran when install() was called (see
# adopt_running_loop), while pyqtguard waits for its aboutToQuit.
_adopted_app: Any = None
# uninstall() ran while the main loop ran: its start is to be told again at
# the next install(), if the loop still runs then.
_unwatched_since_uninstall = False


def adopt_running_loop() -> None:
    """install() called while the application's event loop already runs (from
    a slot, a plugin loaded late): that exec() was not wrapped, so its start
    was missed.  Treat it as starting now, and as ending when the application
    is about to quit (QCoreApplication.exec() emits aboutToQuit as its loop
    ends)."""
    global _loop_depth, _loop_ident, _adopted_app, _unwatched_since_uninstall
    if not in_main_thread():
        return
    if _unwatched_since_uninstall and _loop_depth:
        # uninstall() and install() again inside the loop: the wrapper of
        # that exec() still counts it (and will tell its end); its start is
        # told again to the guards just installed.
        _unwatched_since_uninstall = False
        _notify(_loop_started)
        return
    qtcore = sys.modules.get(QTCORE)
    if qtcore is None or _loop_depth or _adopted_app is not None:
        return
    app = qtcore.QCoreApplication.instance()
    if app is None or qtcore.QThread.currentThread().loopLevel() < 1:
        return
    _adopted_app = app
    app.aboutToQuit.connect(_adopted_loop_ended)
    _loop_depth, _loop_ident = 1, _loop_starts_here()
    _notify(_loop_started)


def _adopted_loop_ended() -> None:
    global _loop_depth, _loop_ident, _adopted_app
    app, _adopted_app = _adopted_app, None
    if app is None:
        return
    try:
        app.aboutToQuit.disconnect(_adopted_loop_ended)
    except (TypeError, RuntimeError):
        pass
    _loop_depth, _loop_ident = 0, None
    _notify(_loop_ended)


def unwrap_event_loops() -> None:
    """Put back the original ``exec`` methods (for :func:`pyqtguard.uninstall`)."""
    global _watching_event_loops, _watching_top_level_loops, _adopted_app
    global _unwatched_since_uninstall, _loop_depth, _loop_ident
    _watching_event_loops = _watching_top_level_loops = False
    app, _adopted_app = _adopted_app, None
    if app is not None:                         # no wrapper will count that loop's end
        _loop_depth, _loop_ident = 0, None
        try:
            app.aboutToQuit.disconnect(_adopted_loop_ended)
        except (TypeError, RuntimeError):
            pass
    _unwatched_since_uninstall = bool(_loop_depth)   # a wrapped exec() runs on
    for cls, original in list(_original_execs.items()):
        # Put back only over pyqtguard's own wrapper: a tool that wrapped
        # exec() after install() keeps its wrapper (ours, inside it, goes
        # inert: _wrappers no longer names it).
        if cls.__dict__.get("exec") is _wrappers.get(cls):
            cls.exec = original
    _original_execs.clear()
    _wrappers.clear()
    toplevel = sys.modules.get(__name__ + ".toplevel")
    if toplevel is not None:
        toplevel.unwrap()
    with _lock:
        for name in set(_APP_CLASSES) | set(_STARTER_CLASSES):
            callbacks = _module_callbacks.get(name)
            if callbacks is not None:
                callbacks[:] = [c for c in callbacks
                                if c is not _attach_app_class and c is not _attach_loop_starters]
                if not callbacks:
                    del _module_callbacks[name]


# ---- pyqtguard's own Qt objects -------------------------------------------------

# id() of each QTimer/QSocketNotifier of pyqtguard's -> the thread that made it
# (_thread.get_ident()): asking Qt (QObject.thread()) would have sip build
# the QThread class, about 0.7 ms at every app's exit.
_made_in: dict[int, int] = {}
# id() of each -> a weak reference to it, for quiet_gui_thread_at_exit().
_adopted: dict[int, Any] = {}
# Set by quiet_gui_thread_at_exit(): the GUI thread stopped pyqtguard's
# objects and they are kept, C++-owned, to the process's end - none is then
# handed to it (deleteLater) from another thread.
_kept_to_the_end = False
_exit_elsewhere = False         # quiet_gui_thread_at_exit() found the exit off the GUI thread


def adopt(qobject: Any) -> Any:
    """Note the thread that made *qobject* (one of pyqtguard's QTimers or
    QSocketNotifiers) for :func:`retire`; returns it."""
    _made_in[id(qobject)] = _thread.get_ident()
    _adopted[id(qobject)] = _weakref.ref(qobject)
    return qobject


def retire(qobject: Any) -> None:
    """Stop one of pyqtguard's QTimers or QSocketNotifiers (made with
    :func:`adopt`) for good, from any thread: at once in the thread that made
    it (the caller then drops it: deleted with its last reference); from
    another thread, where Qt forbids stopping it, that thread deletes it at
    its next turn (until then its slot finds nothing to do).

    Example::

        notifier, _notifier = _notifier, None
        qt_attach.retire(notifier)
    """
    made_in = _made_in.pop(id(qobject), None)
    _adopted.pop(id(qobject), None)
    qtcore = sys.modules.get(QTCORE)
    if qtcore is None:
        return
    try:
        if made_in is None or made_in == _thread.get_ident():
            _stop(qobject, qtcore)
            return
        if _kept_to_the_end:
            return                          # stopped by its thread, kept (see there)
        from PyQt6 import sip

        sip.transferto(qobject, None)       # no delete from here with the wrapper
        qobject.deleteLater()
    except RuntimeError:                    # already deleted (Qt's teardown)
        pass


def _stop(qobject: Any, qtcore: ModuleType) -> None:
    if isinstance(qobject, qtcore.QTimer):
        qobject.stop()
    else:
        qobject.setEnabled(False)


# Objects stopped at a loop's end and kept for the next loop's start, by the
# name of their use: making a QSocketNotifier or QTimer and connecting it costs
# ~10 us a loop, and a pytest-qt suite runs a top-level loop in every wait.
_parked: dict[str, Any] = {}


def park(name: str, qobject: Any) -> None:
    """Stop one of pyqtguard's QTimers or QSocketNotifiers (made with
    :func:`adopt`) and keep it as *name* for :func:`unpark`; from another
    thread than the one that made it, it is retired instead (see
    :func:`retire`)."""
    qtcore = sys.modules.get(QTCORE)
    if qtcore is None or _made_in.get(id(qobject)) != _thread.get_ident():
        retire(qobject)
        return
    try:
        _stop(qobject, qtcore)
    except RuntimeError:                # already deleted (Qt's teardown)
        _made_in.pop(id(qobject), None)
        _adopted.pop(id(qobject), None)
        return
    drop_parked(name)
    _parked[name] = qobject


def unpark(name: str, socket: int | None = None) -> Any:
    """The object parked as *name*, if it was made in this thread, Qt has not
    deleted it meanwhile and - a QSocketNotifier - it watches *socket* (a
    fork child makes its pipes anew); it stays connected.  Else None.

    Example::

        timer = qt_attach.unpark("heartbeat") or make_timer()
    """
    qobject = _parked.pop(name, None)
    if qobject is None:
        return None
    from PyQt6 import sip

    if sip.isdeleted(qobject):          # with its application, say
        _made_in.pop(id(qobject), None)
        _adopted.pop(id(qobject), None)
        return None
    if (_made_in.get(id(qobject)) != _thread.get_ident()
            or (socket is not None and int(qobject.socket()) != socket)):
        retire(qobject)
        return None
    return qobject


def drop_parked(name: str) -> None:
    """Retire the object parked as *name*, if any (uninstall, exit)."""
    qobject = _parked.pop(name, None)
    if qobject is not None:
        retire(qobject)


# ---- interpreter exit ---------------------------------------------------------

def quiet_gui_thread_at_exit(deadline: float | None = None) -> bool:
    """Called by pyqtguard's exit handlers.  When the interpreter exits in
    another thread than the one running the application's event loop - which
    still runs: ``sys.exit()`` in a QThread's ``run()`` - PyQt6's clean-up
    there frees the GUI thread's event dispatcher while the GUI thread waits
    in it: pyqtguard's objects in that thread must not wake it then
    (:mod:`pyqtguard.qt.exitquiet` says how and why), waiting no later than
    *deadline* (``time.monotonic()``).  Returns whether the exit runs so
    (found now or at an earlier call)."""
    global _kept_to_the_end, _exit_elsewhere
    loop = _loop_ident
    if (_exit_elsewhere or loop is None or loop == _thread.get_ident()
            or not _gui_thread_here or QTCORE not in sys.modules):
        return _exit_elsewhere
    _exit_elsewhere = True
    from . import exitquiet

    _kept_to_the_end = exitquiet.quiet_gui_thread(_stop_own_objects_here, deadline)
    return True


def _stop_own_objects_here() -> None:
    """In the GUI thread, at an exit elsewhere: stop pyqtguard's QTimers and
    QSocketNotifiers made in this thread and hand them to C++, which keeps
    them to the process's end (none is deleted from the exiting thread)."""
    from PyQt6 import sip

    qtcore = sys.modules[QTCORE]
    here = _thread.get_ident()
    for key, ref in list(_adopted.items()):
        qobject = ref()
        if qobject is not None and _made_in.get(key) == here:
            _stop(qobject, qtcore)
            sip.transferto(qobject, None)


def detach_at_exit() -> None:
    """Drop pending import and class-completion callbacks (at interpreter exit).

    They no longer matter; held by what lives to the very end (sip's
    registry), they would keep pyqtguard's modules and what those import
    alive through the interpreter's teardown."""
    for name in list(_parked):
        drop_parked(name)
    with _lock:
        _callbacks.clear()
        _module_callbacks.clear()
        _remove_finder()
    _native.forget_class_completions()
