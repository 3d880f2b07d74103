"""pyqtguard: make PyQt6 apps crash-resistant, and their crashes, hangs and
freezes diagnosable.

One line at the top of an app::

    import pyqtguard; pyqtguard.install()

or none at all::

    pyqtguard run app.py

Importing pyqtguard never imports PyQt6: its Qt parts attach when the app
imports ``PyQt6.QtCore``.  Heavier parts of the API load on first use.
"""
from __future__ import annotations

import _thread
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: start-up cost
    from typing import Any

if TYPE_CHECKING:
    from .config import Config  # noqa: TC004

__version__: str  # loaded on first use (see _LAZY)

# Public names that live in modules loaded on first use: name -> module.
# Even __version__: importing pyqtguard without install() (the pytest plugin
# when it is not turned on, a library that only names pyqtguard) loads this
# module alone.
_LAZY: dict[str, str] = {
    "__version__": "pyqtguard._version",
    "ExceptionRecord": "pyqtguard.exceptions.delivery",
    "on_exception": "pyqtguard.exceptions.delivery",
    "remove_exception_callback": "pyqtguard.exceptions.delivery",
    "log_path": "pyqtguard.logs",
    "last_crash": "pyqtguard.crashes.reports",
    "CrashReport": "pyqtguard.crashes.reports",
    "threads": "pyqtguard.registry.listing",
    "dump_threads": "pyqtguard.registry.listing",
    "ThreadInfo": "pyqtguard.registry.listing",
    "on_freeze": "pyqtguard.watchdog.freeze",
    "remove_freeze_callback": "pyqtguard.watchdog.freeze",
    "FreezeEvent": "pyqtguard.watchdog.freeze",
    "shutdown": "pyqtguard.workers",
    "workers": "pyqtguard.workers",
    "offer_last_crash": "pyqtguard.dialogs",
    "show_error_notifications": "pyqtguard.dialogs",
    "Scrubber": "pyqtguard.reporting.scrub",
    "Sentry": "pyqtguard.reporting.destinations",
    "IssueTracker": "pyqtguard.reporting.destinations",
    "Report": "pyqtguard.reporting.report",
}


# (pid of the process that forked, whether its forking thread was the GUI
# thread - None without a QCoreApplication -, how many threads of Qt's
# global pool ran a task), noted in the parent just before each fork, for
# the child: call_in_gui (workers/_gui_call.py) - a child of another thread
# has no GUI thread - and the exit report (watchdog/exit.py) - the child
# copies the pool's count of busy threads, not the threads, and Qt's
# application destructor waits for them.  Registered here, where every
# later pyqtguard import comes through (a module first imported in the
# child would have noted nothing).  PyQt6 is not imported, only looked up;
# and no Qt call is made from a thread other than the GUI thread: there
# QThread.currentThread() adopts the thread, and a fork child of such a
# thread then hung in its first exception report (3.13: 1-3 children of
# 15 runs of 20).
_last_fork: tuple[int, bool | None, int] | None = None


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
    global _last_fork
    in_gui, pool_busy = None, 0
    try:
        qtcore = sys.modules.get("PyQt6.QtCore")
        if qtcore is not None and qtcore.QCoreApplication.instance() is not None:
            in_gui = _in_gui_thread()
            if in_gui:                          # the GUI thread's own Qt calls
                pool_busy = qtcore.QThreadPool.globalInstance().activeThreadCount()
    except Exception:  # noqa: BLE001 - never fail a fork; calls then wait as before
        pass
    _last_fork = (os.getpid(), in_gui, pool_busy)


if hasattr(os, "register_at_fork"):      # not on Windows
    os.register_at_fork(before=_note_fork)


def install(
    *,
    log_dir: str | os.PathLike[str] | None = None,
    app_name: str | None = None,
    keep_logs: int = 20,
    stderr: bool = True,
    **options: Any,
) -> Config | None:
    """Turn pyqtguard on for this process; idempotent.

    Args:
        log_dir: folder for this app's run logs (else ``$PYQTGUARD_LOG_DIR``,
            else the platform's per-user state folder + ``pyqtguard/<app>``).
        app_name: names the per-app folder; default: the main script's stem.
        keep_logs: how many runs' logs to keep (>= 1).
        stderr: also copy reports to stderr (when the process has one).
        **options: ``exit_timeout`` (seconds or None), ``freeze_ms`` (0: off, else >= 50),
            ``dump_signal`` (a signal number or None), ``crash_handler``,
            ``qt_messages``, ``guard_children`` (bools), ``repeat_interval``
            (seconds, default 60: the same uncaught exception - same type,
            same traceback - is reported in full at most once per interval;
            repeats in between are counted and the count is logged with the
            next full report or at exit; 0 reports every one).
            Reports and dialogs (see docs/reporting.md): ``dialogs`` (bool,
            default False, or ``$PYQTGUARD_DIALOGS=1``: the error notification
            and the crashed-last-time dialog), ``report_to`` (a DSN, a project URL, a
            :class:`pyqtguard.Sentry`/:class:`pyqtguard.IssueTracker`, a
            callable ``on_report(report)``, or a list of them),
            ``auto_send`` (bool, default False: nothing is sent without the
            user's click; True is the app's responsibility to ask its users),
            ``app_version`` (str), ``scrub`` (a :class:`pyqtguard.Scrubber`
            or a function ``str -> str`` applied after the default one).
            ``check_threads`` (bool, default False, or
            ``$PYQTGUARD_CHECK_THREADS=1``): a debugging aid that reports a Qt
            widget or pixmap used from a thread other than the GUI thread
            (see docs/threads.md).

    Returns the :class:`Config` in force, or None when ``PYQTGUARD_DISABLE=1``
    (and in a guarded app's forkserver, which from 3.14 runs the main module's
    top level too: the workers it forks install pyqtguard, each with a log of
    its own; and in a subinterpreter, with a RuntimeWarning: the main
    interpreter's install() guards the whole process).

    Example::

        import pyqtguard
        pyqtguard.install(app_name="photo-editor")
    """
    try:
        from . import installer
    except ImportError:
        # An isolated subinterpreter (3.12+) refuses the single-phase C core.
        from . import subinterpreters

        if not subinterpreters.in_subinterpreter():
            raise
        return subinterpreters.not_installed_here(stacklevel=3)
    return installer.install(log_dir=log_dir, app_name=app_name, keep_logs=keep_logs,
                             stderr=stderr, **options)


def uninstall() -> None:
    """Undo :func:`install`: restore exactly the hooks that were there before."""
    from . import installer

    installer.uninstall()


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyqtguard' has no attribute {name!r}")
    attribute = "current_path" if name == "log_path" else name
    __import__(module)
    loaded = sys.modules[module]
    value = loaded if module == f"pyqtguard.{name}" else getattr(loaded, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__",
    "install",
    "uninstall",
    *_LAZY,
]
