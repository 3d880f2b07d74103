"""install() and uninstall(): their options, and one switch over every
component.

The options are validated once, here: programming errors (a wrong type, a
negative timeout) raise ``TypeError`` or ``ValueError`` naming the argument;
environment variables that do not parse are environmental trouble, warned
about once and ignored.

The exception hooks are installed here: they are C functions, and their
Python helpers (:mod:`pyqtguard._exceptions`) load at the first exception.
A component is a module with ``install(config)`` and ``uninstall()``.  They are
installed in the order below and uninstalled in reverse.  A component that
fails to install for environmental reasons warns once and is skipped; the
others still work.  Every module imported here costs every app start-up time
(about 0.1 ms each), so the components are few, each one concern of the C
core's: exceptions, thread tracking, crashes, the watchdog.
"""
from __future__ import annotations

import atexit
import os
import _signal  # the C module: `signal` builds enums, ~1 ms of start-up
import sys
import threading

from . import _native, _qtattach, logfile
from .logfile import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# ---- options --------------------------------------------------------------

ENV_DISABLE = "PYQTGUARD_DISABLE"
ENV_LOG_DIR = "PYQTGUARD_LOG_DIR"
ENV_EXIT_TIMEOUT = "PYQTGUARD_EXIT_TIMEOUT"
ENV_FREEZE_MS = "PYQTGUARD_FREEZE_MS"
ENV_REPEAT_INTERVAL = "PYQTGUARD_REPEAT_INTERVAL"

_UNSET: object = object()
DEFAULT_DUMP_SIGNAL = getattr(_signal, "SIGUSR1", None)


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


def disabled_by_env() -> bool:
    """``PYQTGUARD_DISABLE=1`` (or true/yes/on) turns everything off."""
    return os.environ.get(ENV_DISABLE, "").strip().lower() in {"1", "true", "yes", "on"}


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


def _check_number(name: str, value: object, *, allow_none: bool) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a number or None" if allow_none else "a number"
        raise TypeError(f"{name} must be {kind}, not {type(value).__name__}")
    if value != value or value < 0:  # NaN or negative
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _check_int(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def _env_number(name: str, *, integer: bool) -> float | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw) if integer else float(raw)
        if value != value or value < 0:
            raise ValueError
    except ValueError:
        warn_once(f"env:{name}", f"ignoring {name}={raw!r}: not a number >= 0")
        return None
    return value


def default_app_name() -> str:
    """The stem of the main script, or ``python`` for an interactive session."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else "")
    stem = os.path.splitext(os.path.basename(path))[0] if path else ""
    if stem in {"", "-c", "__main__"}:
        spec = getattr(main, "__spec__", None)
        stem = (spec.name.split(".")[0] if spec and spec.name else "") or "python"
    return sanitize_app_name(stem)


def sanitize_app_name(name: str) -> str:
    """Keep a name usable as one folder name on every platform."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    cleaned = cleaned.strip("._") or "python"
    return cleaned[:64]


def make_config(
    *,
    log_dir: object = None,
    app_name: object = None,
    keep_logs: object = 20,
    stderr: object = True,
    exit_timeout: object = _UNSET,
    freeze_ms: object = _UNSET,
    dump_signal: object = _UNSET,
    crash_handler: object = True,
    qt_messages: object = True,
    guard_children: object = True,
    repeat_interval: object = _UNSET,
) -> Config:
    """Validate :func:`pyqtguard.install`'s arguments; fill in env and defaults."""
    if log_dir is not None and not isinstance(log_dir, (str, os.PathLike)):
        raise TypeError(f"log_dir must be a path or None, not {type(log_dir).__name__}")
    if log_dir is None:
        env_dir = os.environ.get(ENV_LOG_DIR, "").strip()
        log_dir = env_dir or None
    if app_name is not None and not isinstance(app_name, str):
        raise TypeError(f"app_name must be a str or None, not {type(app_name).__name__}")
    if app_name is not None and not app_name.strip():
        raise ValueError("app_name must not be empty")

    if exit_timeout is _UNSET:
        env_timeout = _env_number(ENV_EXIT_TIMEOUT, integer=False)
        exit_timeout = 10.0 if env_timeout is None else env_timeout
    if freeze_ms is _UNSET:
        env_freeze = _env_number(ENV_FREEZE_MS, integer=True)
        freeze_ms = 1000 if env_freeze is None else int(env_freeze)
    if repeat_interval is _UNSET:
        env_repeat = _env_number(ENV_REPEAT_INTERVAL, integer=False)
        repeat_interval = 60.0 if env_repeat is None else env_repeat
    if dump_signal is _UNSET:
        dump_signal = DEFAULT_DUMP_SIGNAL
    if dump_signal is not None:
        dump_signal = _check_int("dump_signal", dump_signal, minimum=1)

    return Config(
        log_dir=os.path.expanduser(os.fspath(log_dir)) if log_dir is not None else None,
        app_name=sanitize_app_name(app_name) if app_name else default_app_name(),
        keep_logs=_check_int("keep_logs", keep_logs, minimum=1),
        stderr=_check_bool("stderr", stderr),
        exit_timeout=_check_number("exit_timeout", exit_timeout, allow_none=True),
        freeze_ms=_check_int("freeze_ms", freeze_ms, minimum=0),
        dump_signal=dump_signal,  # type: ignore[arg-type]
        crash_handler=_check_bool("crash_handler", crash_handler),
        qt_messages=_check_bool("qt_messages", qt_messages),
        guard_children=_check_bool("guard_children", guard_children),
        repeat_interval=_check_number("repeat_interval", repeat_interval, allow_none=False),
    )


# ---- the switch ----------------------------------------------------------
# Each later feature adds one line here.
COMPONENTS: tuple[str, ...] = (
    "pyqtguard._threadtrack",
    "pyqtguard._crash",
    "pyqtguard._watchdog",
)

# Components that matter only once a module is imported: installed then, so
# an app that never imports it never pays for them.  trigger -> component.
DEFERRED_COMPONENTS: dict[str, str] = {
    "multiprocessing.util": "pyqtguard._spawnguard",
}

_installed: Config | None = None
_lock = threading.RLock()
_saved_hooks: tuple[object, object, object] | None = None


def _install_exception_hooks(config: Config) -> None:
    """The three hooks are C functions; their Python helpers
    (:mod:`pyqtguard._exceptions`) are imported at the first exception."""
    global _saved_hooks
    if sys.excepthook is _native.excepthook:
        return
    _saved_hooks = (sys.excepthook, threading.excepthook, sys.unraisablehook)
    _native.configure_hooks_from("pyqtguard._exceptions", config.stderr)
    _native.set_repeat_interval(config.repeat_interval)
    _native.set_previous_hooks(
        None if sys.excepthook is sys.__excepthook__ else sys.excepthook,
        None if threading.excepthook is threading.__excepthook__ else threading.excepthook,
        None if sys.unraisablehook is sys.__unraisablehook__ else sys.unraisablehook,
    )
    sys.excepthook = _native.excepthook
    threading.excepthook = _native.threading_excepthook
    sys.unraisablehook = _native.unraisablehook


def _uninstall_exception_hooks() -> None:
    """Put back exactly the hooks that were there before."""
    global _saved_hooks
    if _saved_hooks is None:
        return
    old_sys, old_threading, old_unraisable = _saved_hooks
    if sys.excepthook is _native.excepthook:
        sys.excepthook = old_sys  # type: ignore[assignment]
    if threading.excepthook is _native.threading_excepthook:
        threading.excepthook = old_threading  # type: ignore[assignment]
    if sys.unraisablehook is _native.unraisablehook:
        sys.unraisablehook = old_unraisable  # type: ignore[assignment]
    _native.set_previous_hooks(None, None, None)
    _native.flush_exception_reports()
    _saved_hooks = None


def _run_log_header(config: Config) -> str:
    from . import __version__

    started = logfile.stamp()
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "-"
    return (
        f"pyqtguard {__version__} run log\n"
        f"app: {config.app_name}\n"
        f"pid: {os.getpid()}\n"
        f"started: {started}\n"
        f"python: {sys.version.split()[0]} ({sys.platform})\n"
        f"script: {script} ({max(0, len(sys.argv) - 1)} arguments, values not logged)\n"
        "\n"
    )


def _stderr_fd() -> int:
    try:
        return sys.stderr.fileno() if sys.stderr is not None else -1
    except (AttributeError, OSError, ValueError):
        return -1


def install(**options: object) -> Config | None:
    """See :func:`pyqtguard.install`."""
    global _installed
    config = make_config(**options)
    if disabled_by_env():
        return None
    with _lock:
        if _installed is not None:
            return _installed  # idempotent
        folder = logfile._resolve(config.log_dir, config.app_name)
        logfile.open_run_log(folder, _run_log_header(config))
        _native.set_stderr_fd(_stderr_fd() if config.stderr else -1)
        try:
            _install_exception_hooks(config)
        except Exception as exc:  # noqa: BLE001 - keep going with what works
            warn_once("component:exceptions", f"exception hooks not installed: {exc!r}")
        for name in COMPONENTS:
            try:
                _component(name).install(config)
            except Exception as exc:  # noqa: BLE001 - keep going with what works
                warn_once(f"component:{name}", f"{name} not installed: {exc!r}")
        _installed = config
        logfile.prune_old_runs(config.keep_logs)   # by the watchdog, if it runs
        for trigger, name in DEFERRED_COMPONENTS.items():
            _qtattach.when_imported(trigger, _deferred_installer(name, config))
        atexit.register(_at_exit)
        return config


def _component(name: str) -> Any:
    """Import a component module (``__import__``: importlib itself is a
    start-up cost for apps that have not imported it)."""
    __import__(name)
    return sys.modules[name]


def _deferred_installer(name: str, config: Config) -> object:
    def install_component(module: object) -> None:
        if _installed is not config:
            return                              # uninstalled (or reinstalled) since
        try:
            _component(name).install(config)
        except Exception as exc:  # noqa: BLE001
            warn_once(f"component:{name}", f"{name} not installed: {exc!r}")

    return install_component


def uninstall() -> None:
    """See :func:`pyqtguard.uninstall`."""
    global _installed
    with _lock:
        if _installed is None:
            return
        for name in (*reversed(COMPONENTS), *DEFERRED_COMPONENTS.values()):
            module = sys.modules.get(name)
            if module is not None:
                try:
                    module.uninstall()
                except Exception as exc:  # noqa: BLE001
                    warn_once(f"uninstall:{name}", f"{name} uninstall failed: {exc!r}")
        _uninstall_exception_hooks()
        _qtattach.unwrap_event_loops()
        _installed = None
        atexit.unregister(_at_exit)


def installed_config() -> Config | None:
    """The Config in force, or None if pyqtguard is not installed."""
    return _installed


def _at_exit() -> None:
    # Reports still queued (see src/exchooks.c) are written now; from here
    # on each is written in the hook itself.
    _native.flush_exception_reports(True)
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
