"""Exception hooks: ``sys.excepthook``, ``threading.excepthook`` and
``sys.unraisablehook`` as C functions (installed by this package's face),
asyncio's default exception handler (:mod:`.asyncio_loops`), matplotlib's
printed exceptions (:mod:`.matplotlib_printing`),
and where a report goes from there (:mod:`.delivery`: the ``pyqtguard``
logger, ``on_exception`` callbacks, copies to a replaced ``sys.stderr``).
C side: ``src/exchooks.c``, ``src/excrepeats.c``, ``src/unreported.c``,
``src/tbformat.c``.

This face installs and uninstalls the hooks.  The three hooks are C functions in ``pyqtguard._native`` (``src/exchooks.c``):
they must work during finalization and when ``sys.stderr`` is None.  Their
Python helpers (:mod:`pyqtguard.exceptions.delivery`) are imported by the C
core at the first exception, not at start-up.  The hooks that were there
before are chained to, and put back exactly by :func:`uninstall`.
``threading.excepthook`` is set when the app imports :mod:`threading` (at
once if it has): see :mod:`pyqtguard.registry` on why not before.
"""
from __future__ import annotations

import _thread
import os
import sys

from .. import _native
from .. import qt as qt_attach
from ..registry import loaded_threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

    from ..config import Config

# The hooks that were there before install(): (sys, threading, unraisable);
# threading's is None until threading is imported and hooked.
_saved_hooks: tuple[object, object, object] | None = None
# install()'s exit_timeout: queued reports get half of it once shutdown begins.
_exit_timeout: float | None = None

DELIVERY_MODULE = "pyqtguard.exceptions.delivery"
# matplotlib's modules that print an exception they caught (see
# matplotlib_printing; the names are here so that install() imports nothing)
MATPLOTLIB_MODULES = ("matplotlib.cbook", "matplotlib.backends.backend_qt")
# What a first report imports, in whichever thread it is written, by the
# module that report begins with: an exception's (a thread's, the
# excepthook's, an unraisable one's: the delivery module, then traceback,
# which reads source lines and parses them) and a Qt message's (the app's
# line that set it off).  tests/test_fork_from_threads.py checks the lists
# (3.13's traceback also brings contextlib and re; 3.14's, dataclasses).
REPORT_IMPORTS = {
    DELIVERY_MODULE: (DELIVERY_MODULE, "pyqtguard.qt.guithread", "traceback", "linecache",
                      "tokenize", "token", "textwrap", "ast", "contextlib", "re")
                     + (("copy", "dataclasses", "annotationlib")      # 3.14's traceback
                        if sys.version_info >= (3, 14) else ()),
    "pyqtguard.registry.frames": ("pyqtguard.registry.frames", "opcode", "dis", "inspect"),
}
_report_imports_done: set[str] = set()
_fork_hook_registered = False


def _before_fork() -> None:
    """Before ``fork()``: a thread importing what a report needs (its first
    report does) holds that import's lock, and a fork child, which copies
    only the forking thread, would have it held for ever - the child's
    first report waited in the import (15-19 of 20 children hung).  So once
    a kind of report has begun (the module it begins with is in
    ``sys.modules``, or its import lock is in importlib's table while it is
    being found), everything it imports is imported here first, which waits
    for such an import to end; then a set's check per fork."""
    global _fork_warning_ready
    if _saved_hooks is None:
        return
    if not _fork_warning_ready:
        _fork_warning_ready = _import_before_fork_warning()
    if len(_report_imports_done) == len(REPORT_IMPORTS):
        return
    locks = getattr(sys.modules.get("_frozen_importlib"), "_module_locks", ())
    for first, group in REPORT_IMPORTS.items():
        if first in _report_imports_done or (first not in sys.modules and first not in locks):
            continue          # done, or not begun: this fork imports nothing for it
        try:
            for name in group:
                __import__(name)
        except Exception:  # noqa: BLE001 - never in the way of the fork
            continue
        _report_imports_done.add(first)


# CPython 3.12's os.fork() warns of a fork with threads ("DeprecationWarning:
# This process ... is multi-threaded") in the parent while it still holds
# the import lock it took for the fork (3.13 releases it first).  Showing
# that warning imports linecache: if another thread is importing it then -
# a first report is, by way of traceback - each thread waits for the
# other's lock, and the app hangs for good (2 of 65 runs of
# test_a_fork_while_the_first_report_is_being_written..., under load).
_fork_warning_ready = sys.version_info[:2] != (3, 12)


def _import_before_fork_warning() -> bool:
    """3.12: finish (or wait for another thread's) import of linecache now,
    before the fork's import lock is held.  Whether it is imported."""
    try:
        __import__("linecache")
    except Exception:  # noqa: BLE001 - never in the way of the fork
        return False
    return True


def _after_fork_in_child() -> None:
    """In a fork child: one window is left to the before-fork hook - a
    thread may begin a report's import after the hook looked and before the
    fork (3.12: a child hung in 6 runs of 10).  That import, half done here
    (its thread was not copied), would hold its lock for ever: the module
    and its lock are dropped, so the child's own report imports it afresh.
    Only the report's modules, and only an import another thread began."""
    importlib = sys.modules.get("_frozen_importlib")
    locks = getattr(importlib, "_module_locks", None)
    if not isinstance(locks, dict):
        return
    me = _thread.get_ident()
    for group in REPORT_IMPORTS.values():
        for name in group:
            ref = locks.get(name)
            lock = ref() if callable(ref) else None
            if lock is None or getattr(lock, "owner", me) == me:
                continue              # no import under way, or this thread's own
            module = sys.modules.get(name)
            if module is None or getattr(getattr(module, "__spec__", None),
                                         "_initializing", False):
                sys.modules.pop(name, None)
                locks.pop(name, None)


def install(config: Config) -> None:
    """Put the C hooks in place, chaining to the app's own hooks."""
    global _saved_hooks, _exit_timeout, _fork_hook_registered
    if _saved_hooks is not None:
        return                                  # installed
    # A hook of ours can be in place while pyqtguard is not installed: another
    # tool swapped sys.excepthook while uninstall() ran (pytest-qt does, per
    # test phase), so uninstall() left the tool's alone, and the tool put back
    # the one it had saved - ours.  The hook "there before" is then Python's
    # own (chaining to ours would loop).
    _saved_hooks = (_not_ours(sys.excepthook, _native.excepthook, sys.__excepthook__), None,
                    _not_ours(sys.unraisablehook, _native.unraisablehook, sys.__unraisablehook__))
    _quiet_pyqtgraph_handler(_saved_hooks[0], "orig_sys_excepthook",
                             lambda hook: hook is sys.__excepthook__
                             or _only_calls_pythons_hook(hook))
    _quiet_sentry_hook(_saved_hooks[0], "sentry_sdk_excepthook", "old_excepthook",
                       sys.__excepthook__)
    _quiet_sentry_hook(_saved_hooks[2], "sentry_sdk_unraisablehook", "old_unraisablehook",
                       sys.__unraisablehook__)
    _native.configure_hooks_from(DELIVERY_MODULE, config.stderr)
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
        _fork_hook_registered = True
    _native.set_repeat_interval(config.repeat_interval)
    _chain_to_saved_hooks()
    sys.excepthook = _native.excepthook
    sys.unraisablehook = _native.unraisablehook
    threading = loaded_threading()
    if threading is not None:
        _hook_threading(threading)
    else:
        qt_attach.when_imported("threading", _hook_threading)
    qt_attach.when_imported("asyncio.base_events", _hook_asyncio)
    qt_attach.when_imported("qasync", _hook_asyncio)
    for name in MATPLOTLIB_MODULES:
        qt_attach.when_imported(name, _hook_matplotlib)
    qt_attach.when_imported("sentry_sdk", _pair_sentry_events)
    _exit_timeout = config.exit_timeout
    qt_attach.on_loop_started(watch_queued_reports, top_level=True)
    qt_attach.on_loop_ended(unwatch_queued_reports, top_level=True)
    qt_attach.on_loop_ended(begin_report_deadline)


def _not_ours(hook: object, ours: object, default: object) -> object:
    return default if hook is ours else hook


def _hook_threading(threading: ModuleType) -> None:
    """Set threading.excepthook (at install, or when threading is imported)."""
    global _saved_hooks
    if _saved_hooks is None or _saved_hooks[1] is not None:
        return                                  # uninstalled meanwhile, or hooked
    previous = _not_ours(threading.excepthook, _native.threading_excepthook,
                         threading.__excepthook__)
    _saved_hooks = (_saved_hooks[0], previous, _saved_hooks[2])
    _quiet_pyqtgraph_handler(previous, "orig_threading_excepthook",
                             lambda hook: hook is threading.__excepthook__)
    _chain_to_saved_hooks()
    threading.excepthook = _native.threading_excepthook


def _hook_asyncio(module: ModuleType) -> None:
    """asyncio's (or qasync's) loops report what nobody handles: when the
    module is imported (:mod:`.asyncio_loops`)."""
    if _saved_hooks is None:
        return                                  # uninstalled meanwhile
    from . import asyncio_loops

    if module.__name__ == "qasync":
        asyncio_loops.attach_qasync(module)
    else:
        asyncio_loops.attach_asyncio(module)


def _hook_matplotlib(module: ModuleType) -> None:
    """matplotlib's caught-and-printed exceptions are reported: when its
    modules are imported (:mod:`.matplotlib_printing`)."""
    if _saved_hooks is None:
        return                                  # uninstalled meanwhile
    from . import matplotlib_printing

    matplotlib_printing.attach(module)


def _pair_sentry_events(module: ModuleType) -> None:
    """An app's own sentry-sdk gets each exception once, not also from the
    ``pyqtguard`` logger's record (:mod:`.sentry_events`): when it is imported."""
    if _saved_hooks is None:
        return                                  # uninstalled meanwhile
    from . import sentry_events

    sentry_events.attach()


def _chain_to_saved_hooks() -> None:
    """Tell the C hooks which of the app's hooks to call after theirs."""
    assert _saved_hooks is not None
    old_sys, old_threading, old_unraisable = _saved_hooks
    threading = loaded_threading()
    _native.set_previous_hooks(
        None if old_sys is sys.__excepthook__ or _only_calls_pythons_hook(old_sys)
        else old_sys,
        None if threading is None or old_threading is threading.__excepthook__
        else old_threading,
        None if old_unraisable is sys.__unraisablehook__ else old_unraisable,
    )


def _only_calls_pythons_hook(hook: object) -> bool:
    """pyqtgraph, when imported, replaces Python's default ``sys.excepthook``
    with ``pyqt_qabort_override``, which only calls it (so that PyQt does not
    abort at an exception in a slot).  Chained to, it would print each report
    a second time on stderr: it is Python's default hook but for its name.
    (It is still what :func:`uninstall` puts back.)"""
    code = getattr(hook, "__code__", None)
    if getattr(code, "co_name", None) != "pyqt_qabort_override":
        return False
    if getattr(hook, "__module__", None) != "pyqtgraph.Qt":
        return False
    # the hook it calls: a global of pyqtgraph.Qt (a closure's cell in case
    # a release moves it into a function)
    called = getattr(hook, "__globals__", {}).get("sys_excepthook")
    for cell in getattr(hook, "__closure__", None) or ():
        try:
            called = cell.cell_contents
        except ValueError:                      # an empty cell
            return False
    return called is sys.__excepthook__


# (handler or closure cell, attribute, what it was, what pyqtguard put there)
# while installed: pyqtgraph's and sentry-sdk's calls of Python's printing hooks
_quieted: list[tuple[object, str, object, object]] = []


def _quiet_pyqtgraph_handler(hook: object, attribute: str,
                             is_pythons: Callable[[object], bool]) -> None:
    """``pyqtgraph.exceptionHandling`` wraps the hooks it found - Python's
    default ones, as a rule - in an ``ExceptionHandler`` that calls them
    (they print the traceback), then its registered callbacks.  Chained to,
    it printed each report a second time on stderr.  While pyqtguard is
    installed, its call of Python's default does nothing; its callbacks
    still run, and :func:`uninstall` puts the default back."""
    handler = getattr(hook, "__self__", None)
    kind = type(handler)
    if kind.__name__ != "ExceptionHandler" or kind.__module__ != "pyqtgraph.exceptionHandling":
        return
    original = getattr(handler, attribute, None)
    if not is_pythons(original):
        return

    def printed_by_pyqtguard(*args: object) -> None:
        return None

    try:
        setattr(handler, attribute, printed_by_pyqtguard)
    except (AttributeError, TypeError):
        return
    _quieted.append((handler, attribute, original, printed_by_pyqtguard))


def _quiet_sentry_hook(hook: object, name: str, variable: str, default: object) -> None:
    """sentry-sdk initialised before :func:`install` wrapped Python's
    default hook (``ExcepthookIntegration``, ``UnraisablehookIntegration``):
    its hook sends the event, then calls the default, which prints the
    traceback.  Chained to, it printed each report a second time on stderr.
    While pyqtguard is installed, the default its closure holds does
    nothing; the event is still sent, and :func:`uninstall` puts the
    default back in the closure."""
    code = getattr(hook, "__code__", None)
    if getattr(code, "co_name", None) != name \
            or not str(getattr(hook, "__module__", "")).startswith("sentry_sdk."):
        return
    try:
        cell = hook.__closure__[code.co_freevars.index(variable)]  # type: ignore[attr-defined]
        if cell.cell_contents is not default:
            return                              # it wraps a hook of the app's
    except (AttributeError, IndexError, TypeError, ValueError):
        return                                  # another release's shape

    def printed_by_pyqtguard(*args: object) -> None:
        return None

    cell.cell_contents = printed_by_pyqtguard
    _quieted.append((cell, "cell_contents", default, printed_by_pyqtguard))


def _unquiet_printing_hooks() -> None:
    while _quieted:
        handler, attribute, original, ours = _quieted.pop()
        if getattr(handler, attribute, None) is ours:
            setattr(handler, attribute, original)


def uninstall() -> None:
    """Put back exactly the hooks that were there before; write what is
    still queued."""
    global _saved_hooks
    if _saved_hooks is None:
        return
    old_sys, old_threading, old_unraisable = _saved_hooks
    if sys.excepthook is _native.excepthook:
        sys.excepthook = old_sys  # type: ignore[assignment]
    threading = loaded_threading()
    if (old_threading is not None and threading is not None
            and threading.excepthook is _native.threading_excepthook):
        threading.excepthook = old_threading  # type: ignore[assignment]
    if sys.unraisablehook is _native.unraisablehook:
        sys.unraisablehook = old_unraisable  # type: ignore[assignment]
    # A hook of ours another tool wrapped since stays inside the tool's: it
    # now only calls on to the hook it replaced (Python's own included), so
    # nothing more is reported after uninstall().
    _native.set_previous_hooks(old_sys, old_threading, old_unraisable, True)
    asyncio_loops = sys.modules.get(f"{__name__}.asyncio_loops")
    if asyncio_loops is not None:
        asyncio_loops.detach()
    _unquiet_printing_hooks()
    matplotlib_printing = sys.modules.get(f"{__name__}.matplotlib_printing")
    if matplotlib_printing is not None:
        matplotlib_printing.detach()
    unwatch_queued_reports()
    qt_attach.drop_parked("queued reports")
    _native.flush_exception_reports()
    _saved_hooks = None


def flush_at_exit() -> None:
    """Write the reports still queued (see src/exchooks.c), within half the
    exit deadline (what does not fit is counted); from here on each is
    written in the hook itself."""
    _native.flush_exception_reports(True, report_budget())


def detach_at_exit() -> None:
    """An exit from inside the event loop: nobody watches the pipe any more."""
    unwatch_queued_reports()


# ---- who writes queued reports -------------------------------------------------
# The C hooks only queue an exception PyQt6 hands to sys.excepthook (PyQt6
# drops other threads' exceptions while one is in the hook); the app's own
# threads write the queue (src/exchooks.c): the GUI thread at its event
# loop's next turn, woken through a pipe; the main thread at its next Python
# instruction when no loop runs.

def report_budget() -> float:
    """Seconds that queued exception reports get once shutdown begins: half
    the exit deadline, or 5 s without one."""
    return 5.0 if _exit_timeout is None else _exit_timeout / 2


def begin_report_deadline() -> None:
    """The event loop ended: shutdown begins (see pyqtguard.watchdog.exit),
    and queued exception reports are written within report_budget() from now."""
    if _saved_hooks is not None and _exit_timeout is not None:
        _native.report_deadline(report_budget())


_report_notifier: Any = None


def watch_queued_reports() -> None:
    """At the loop's start (or one's in its place): have the GUI thread write
    queued exception reports when the hooks wake it (a QSocketNotifier on
    their pipe)."""
    global _report_notifier
    if not qt_attach.in_top_level_loop():
        _native.report_deadline(-1.0)       # not shutting down after all
    qtcore = sys.modules.get(qt_attach.QTCORE)
    fd = _native.report_wakeup_fd(True) if qtcore is not None else -1
    if fd < 0 or _report_notifier is not None:
        return
    try:
        notifier = qt_attach.unpark("queued reports", fd)
        if notifier is None:
            notifier = qt_attach.adopt(qtcore.QSocketNotifier(fd, qtcore.QSocketNotifier.Type.Read))
            notifier.activated.connect(_native.write_queued_reports)
        notifier.setEnabled(True)
    except BaseException:
        _native.report_wakeup_fd(False)     # nobody watches: the main thread writes them
        raise
    _report_notifier = notifier


def unwatch_queued_reports() -> None:
    """At the loop's end: the main thread writes them (at its next Python
    instruction) from now on."""
    global _report_notifier
    notifier, _report_notifier = _report_notifier, None
    _native.report_wakeup_fd(False)
    if notifier is not None:
        qt_attach.park("queued reports", notifier)   # for the next loop; retired if another thread
