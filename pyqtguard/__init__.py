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

import os
import sys

from . import _forknote  # noqa: F401 - the note each fork takes for its child

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
