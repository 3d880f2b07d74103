"""What stays installed while the app runs: the :class:`Config` in force, the
exit handler, and the way :func:`pyqtguard.install` runs the installer.

The installer (:mod:`pyqtguard._install`: option checks, the wiring of every
component, creating the run log) runs once, at start-up.  It is loaded for
the call only (:func:`run_installer`): kept loaded, its ~40 functions would
stay in memory for the whole run and be traversed by each of the
interpreter's four collections at exit, then freed one by one - an exit cost
the app would pay for code that never runs again.  What runs later (hooks,
callbacks, this module's exit handler) lives in the modules that stay.
"""
from __future__ import annotations

import os
import sys
import threading

from . import _native, _qtattach, logfile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ENV_DISABLE = "PYQTGUARD_DISABLE"
ENV_LOG_DIR = "PYQTGUARD_LOG_DIR"
ENV_EXIT_TIMEOUT = "PYQTGUARD_EXIT_TIMEOUT"
ENV_FREEZE_MS = "PYQTGUARD_FREEZE_MS"
ENV_REPEAT_INTERVAL = "PYQTGUARD_REPEAT_INTERVAL"


class Config:
    """What :func:`pyqtguard.install` was asked to do (read-only).

    A plain class, not a dataclass: importing ``dataclasses`` would cost more
    than all of pyqtguard's start-up budget.
    """

    __slots__ = ("log_dir", "app_name", "keep_logs", "stderr", "exit_timeout",
                 "freeze_ms", "dump_signal", "crash_handler", "qt_messages",
                 "guard_children", "repeat_interval")

    log_dir: str | None
    app_name: str
    keep_logs: int
    stderr: bool
    exit_timeout: float | None
    freeze_ms: int
    dump_signal: int | None
    crash_handler: bool
    qt_messages: bool
    guard_children: bool
    repeat_interval: float

    def __init__(self, **values: object) -> None:
        for name in self.__slots__:
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Config is read-only")

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"Config({fields})"


# The Config in force (None: not installed) and the exception hooks that were
# there before install(); both set by the installer, under `lock`.
config: Config | None = None
saved_hooks: tuple[object, object, object] | None = None
lock = threading.RLock()


def installed_config() -> Config | None:
    """The Config in force, or None if pyqtguard is not installed."""
    return config


def sanitize_app_name(name: str) -> str:
    """Keep a name usable as one folder name on every platform."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    cleaned = cleaned.strip("._") or "python"
    return cleaned[:64]


def default_app_name() -> str:
    """The stem of the main script, or ``python`` for an interactive session."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else "")
    stem = os.path.splitext(os.path.basename(path))[0] if path else ""
    if stem in {"", "-c", "__main__"}:
        spec = getattr(main, "__spec__", None)
        stem = (spec.name.split(".")[0] if spec and spec.name else "") or "python"
    return sanitize_app_name(stem)


# ---- running the installer -------------------------------------------------
# Loaded by run_installer for one call, then dropped (unless something else
# had loaded them).
_INSTALLER_MODULES = ("pyqtguard._install", "pyqtguard.logdir")


def run_installer(function: str, **options: Any) -> Any:
    """Call ``pyqtguard._install.<function>(**options)`` with the installer
    loaded for this call only.

    Example::

        run_installer("install", app_name="photo-editor")
    """
    with lock:
        loaded_before = [name for name in _INSTALLER_MODULES if name in sys.modules]
        __import__("pyqtguard._install")
        try:
            return getattr(sys.modules["pyqtguard._install"], function)(**options)
        finally:
            for name in _INSTALLER_MODULES:
                if name not in loaded_before:
                    _unload(name)


def _unload(name: str) -> None:
    """Forget a module and, if nobody else holds it, free it now: its dict
    and its functions (whose globals are that dict) form cycles that only
    the garbage collector would break - at exit, in the worst case."""
    module = sys.modules.pop(name, None)
    if module is None:
        return
    package = sys.modules.get("pyqtguard")
    attribute = name.rpartition(".")[2]
    if package is not None and getattr(package, attribute, None) is module:
        delattr(package, attribute)
    # Held only by the local `module`: as many references as a fresh object
    # held by one local (counted the same way on every CPython version).  A
    # thread that imported it meanwhile holds another.
    alone = object()
    if sys.getrefcount(module) <= sys.getrefcount(alone):
        vars(module).clear()


def deferred_installer(component: str, installed: Config) -> Any:
    """A callback that installs *component* when the module it watches is
    imported (see ``DEFERRED_COMPONENTS`` in :mod:`pyqtguard._install`), if
    *installed* is still the Config in force then."""
    def install_component(module: object) -> None:
        if config is not installed:
            return                              # uninstalled (or reinstalled) since
        try:
            __import__(component)
            sys.modules[component].install(installed)
        except Exception as exc:  # noqa: BLE001
            logfile.warn_once(f"component:{component}", f"{component} not installed: {exc!r}")

    return install_component


# ---- at exit -----------------------------------------------------------------

def report_budget() -> float:
    """Seconds that queued exception reports get once shutdown begins: half
    the exit deadline, or 5 s without one."""
    timeout = config.exit_timeout if config is not None else None
    return 5.0 if timeout is None else timeout / 2


def begin_report_deadline() -> None:
    """The event loop ended: shutdown begins (see pyqtguard._watchdog), and
    queued exception reports are written within report_budget() from now."""
    if config is not None and config.exit_timeout is not None:
        _native.report_deadline(report_budget())


def at_exit() -> None:
    """Registered with :mod:`atexit` by install()."""
    # Reports still queued (see src/exchooks.c) are written now, within half
    # the exit deadline (what does not fit is counted); from here on each is
    # written in the hook itself.
    _native.flush_exception_reports(True, report_budget())
    logfile.log_event("pyqtguard: interpreter exit")
    # From here on Python cannot write a report: the exit deadline moves from
    # the watchdog thread to a timer, and the thread ends before exit_group()
    # would have to kill it (see src/watchdog.c).
    _native.watchdog_hand_off()
    # What Qt keeps to the end must not keep pyqtguard alive through the
    # teardown (see _qtattach.detach_at_exit).
    _qtattach.detach_at_exit()
    # QThreads still running must not call into Python while they are ended
    # during the teardown (see _qthreads.detach_at_exit).
    qthreads = sys.modules.get("pyqtguard._qthreads")  # loaded once QThread is used
    if qthreads is not None:
        qthreads.detach_at_exit()
