"""The installer: install() and uninstall(), their options, and one switch
over every component.

Loaded for one call and dropped after it (see
:func:`pyqtguard._installed.run_installer`): nothing here may be registered as
a hook or callback - what runs later lives in the modules that stay loaded.

The options are validated once, here: programming errors (a wrong type, a
negative timeout) raise ``TypeError`` or ``ValueError`` naming the argument;
environment variables that do not parse are environmental trouble, warned
about once and ignored.

The exception hooks are installed here: they are C functions, and their
Python helpers (:mod:`pyqtguard._exceptions`) load at the first exception.
Each component - thread tracking, crashes, the watchdog - is a module of what
runs while installed (:mod:`pyqtguard._threadtrack`, :mod:`pyqtguard._crash`,
:mod:`pyqtguard._watchdog`) and a pair of functions here that wire it in and
out.  They are installed in the order of ``COMPONENTS`` and uninstalled in
reverse.  A component that fails to install for environmental reasons warns
once and is skipped; the others still work.  A deferred component (a module
with ``install(config)`` and ``uninstall()``) is installed when the module it
needs is imported.  Every module imported here costs every app start-up time
(about 0.1 ms each), so the components are few, each one concern of the C
core's.
"""
from __future__ import annotations

import atexit
import os
import _signal  # the C module: `signal` builds enums, ~1 ms of start-up
import sys
import threading

from . import _crash, _installed, _native, _qtattach, _threadtrack, _watchdog, logdir, logfile
from ._installed import (ENV_DISABLE, ENV_EXIT_TIMEOUT, ENV_FREEZE_MS, ENV_LOG_DIR,
                         ENV_REPEAT_INTERVAL, Config, default_app_name, sanitize_app_name)
from .logfile import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# ---- options --------------------------------------------------------------

_UNSET: object = object()
DEFAULT_DUMP_SIGNAL = getattr(_signal, "SIGUSR1", None)


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
# Each later feature adds one line here: (name, install, uninstall), defined
# below.  Installed in this order, uninstalled in reverse.
COMPONENTS: tuple[tuple[str, Callable[[Config], None], Callable[[], None]], ...]

# Components that matter only once a module is imported: installed then, so
# an app that never imports it never pays for them.  trigger -> component.
DEFERRED_COMPONENTS: dict[str, str] = {
    "multiprocessing.util": "pyqtguard._spawnguard",
}


def _install_exception_hooks(config: Config) -> None:
    """The three hooks are C functions; their Python helpers
    (:mod:`pyqtguard._exceptions`) are imported at the first exception."""
    if sys.excepthook is _native.excepthook:
        return
    _installed.saved_hooks = (sys.excepthook, threading.excepthook, sys.unraisablehook)
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
    if _installed.saved_hooks is None:
        return
    old_sys, old_threading, old_unraisable = _installed.saved_hooks
    if sys.excepthook is _native.excepthook:
        sys.excepthook = old_sys  # type: ignore[assignment]
    if threading.excepthook is _native.threading_excepthook:
        threading.excepthook = old_threading  # type: ignore[assignment]
    if sys.unraisablehook is _native.unraisablehook:
        sys.unraisablehook = old_unraisable  # type: ignore[assignment]
    _native.set_previous_hooks(None, None, None)
    _native.flush_exception_reports()
    _installed.saved_hooks = None


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


def _open_run_log(config: Config) -> str | None:
    """Create this run's log and hand it to the C core; returns its path.
    Without one (the folder cannot be used), reports go to stderr only, with
    one warning, and this returns None."""
    kept = logfile.run_log_path()
    if kept is not None:
        return kept                             # from an earlier install()
    folder = logdir.folder_for(config.log_dir, config.app_name)
    try:
        path, fd = logdir.create_run_log(folder, _run_log_header(config))
    except OSError as exc:
        warn_once("logdir", f"cannot write run logs to {folder} ({exc}); "
                  "reports go to stderr only")
        return None
    logfile.use_run_log(path, fd)
    return path


def install(**options: object) -> Config | None:
    """See :func:`pyqtguard.install`; run through
    :func:`pyqtguard._installed.run_installer`, under its lock."""
    config = make_config(**options)
    if disabled_by_env():
        return None
    if _installed.config is not None:
        return _installed.config  # idempotent
    run_log = _open_run_log(config)
    _native.set_stderr_fd(_stderr_fd() if config.stderr else -1)
    try:
        _install_exception_hooks(config)
    except Exception as exc:  # noqa: BLE001 - keep going with what works
        warn_once("component:exceptions", f"exception hooks not installed: {exc!r}")
    for name, install_component, _ in COMPONENTS:
        try:
            install_component(config)
        except Exception as exc:  # noqa: BLE001 - keep going with what works
            warn_once(f"component:{name}", f"{name} not installed: {exc!r}")
    _installed.config = config
    if run_log is not None:
        logdir.prune_old_runs(run_log, config.keep_logs)   # by the watchdog, if it runs
    for trigger, name in DEFERRED_COMPONENTS.items():
        _qtattach.when_imported(trigger, _installed.deferred_installer(name, config))
    atexit.register(_installed.at_exit)
    return config


def uninstall() -> None:
    """See :func:`pyqtguard.uninstall`; run as :func:`install` is."""
    if _installed.config is None:
        return
    uninstalls = [(name, uninstall_component) for name, _, uninstall_component
                  in reversed(COMPONENTS)]
    for name in DEFERRED_COMPONENTS.values():
        module = sys.modules.get(name)
        if module is not None:
            uninstalls.append((name, module.uninstall))
    for name, uninstall_component in uninstalls:
        try:
            uninstall_component()
        except Exception as exc:  # noqa: BLE001
            warn_once(f"uninstall:{name}", f"{name} uninstall failed: {exc!r}")
    _uninstall_exception_hooks()
    _qtattach.unwrap_event_loops()
    _installed.config = None
    atexit.unregister(_installed.at_exit)


# ---- thread tracking (pyqtguard._threadtrack) -------------------------------

def _install_threads(config: Config) -> None:
    """Name and track Python threads now, QThreads once Qt is imported."""
    tt = _threadtrack
    if tt._original_thread_start is None:
        tt._original_thread_start = threading.Thread.start
        threading.Thread.start = tt._start_python_thread  # type: ignore[method-assign]
    if tt._original_bootstrap_inner is None:
        tt._original_bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
        threading.Thread._bootstrap_inner = tt._bootstrap_inner  # type: ignore[attr-defined]
        tt._original_name = threading.Thread.name
        threading.Thread.name = property(tt._original_name.fget, tt._set_name)  # type: ignore[assignment]
    for thread in threading.enumerate():
        if thread.native_id and thread.ident:
            try:
                _native.thread_register(thread.native_id, thread.ident, thread.name,
                                        tt._kind_of(thread))
            except Exception:  # noqa: BLE001
                pass
    _qtattach.when_qt_imported(tt._attach_qthreads)


def _uninstall_threads() -> None:
    tt = _threadtrack
    if tt._original_thread_start is not None:
        threading.Thread.start = tt._original_thread_start  # type: ignore[method-assign]
        tt._original_thread_start = None
    if tt._original_bootstrap_inner is not None:
        threading.Thread._bootstrap_inner = tt._original_bootstrap_inner  # type: ignore[attr-defined]
        threading.Thread.name = tt._original_name  # type: ignore[assignment]
        tt._original_bootstrap_inner = None
        tt._original_name = None
    if tt._qthread_class is not None:
        _native.forget_class_completion(tt._qthread_class)
        tt._qthread_class = None
    qthreads = sys.modules.get("pyqtguard._qthreads")
    if qthreads is not None:
        qthreads.unwrap_start()


# ---- crashes and Qt's messages (pyqtguard._crash) ---------------------------

def _faulthandler_engine() -> bool:
    """Enable faulthandler on the run log where it must be the engine (3.13+:
    see pyqtguard._crash)."""
    if _native.own_python_stacks_supported():
        return False                       # 3.11-3.12: the C core dumps stacks
    import faulthandler  # here: on 3.11-3.12 its module would only cost exit time

    if not faulthandler.is_enabled():
        fd = _native.log_fd()
        # 3.14's C stack symbolizes with dladdr(), which takes the loader's
        # lock (docs/crashes.md); the C core writes the native stack itself.
        no_c_stack = {"c_stack": False} if sys.version_info >= (3, 14) else {}
        faulthandler.enable(file=fd if fd >= 0 else 2, all_threads=True, **no_c_stack)
        _crash._enabled_faulthandler = True
    return True


def _install_crash(config: Config) -> None:
    """Arm the fatal-signal handlers (unless ``crash_handler=False``); put
    the Qt message handler in once Qt is imported (unless ``qt_messages=False``)."""
    if config.crash_handler and not _native.crash_enabled():
        try:
            _native.crash_enable(_faulthandler_engine())
        except (OSError, MemoryError, ValueError, RuntimeError) as exc:
            warn_once("crash", f"pyqtguard: crash reports are off: {exc}")
    if config.qt_messages:
        _crash._wanted = True
        _qtattach.when_qt_imported(_crash._attach_message_handler)
        atexit.register(_crash._detach_message_handler)


def _uninstall_crash() -> None:
    _crash._wanted = False
    _crash._detach_message_handler()
    atexit.unregister(_crash._detach_message_handler)
    _native.crash_disable()
    if _crash._enabled_faulthandler:
        import faulthandler

        faulthandler.disable()
        _crash._enabled_faulthandler = False


# ---- the watchdog (pyqtguard._watchdog) ---------------------------------------

def _install_dump_signal(config: Config) -> None:
    signum = config.dump_signal
    if signum is None or not hasattr(_signal, "SIGUSR1"):
        return
    _watchdog.ensure_started()
    try:
        current = _signal.getsignal(signum)
    except (ValueError, OSError):
        return
    if current not in (_signal.SIG_DFL, None):
        # The app (or a library) uses this signal: leave it alone.
        warn_once("dump-signal", f"pyqtguard: signal {signum} is in use; no dump signal")
        return
    _native.dump_signal_enable(signum)
    _watchdog._dump_signal = signum


def _uninstall_dump_signal() -> None:
    if _watchdog._dump_signal is not None:
        try:
            _signal.signal(_watchdog._dump_signal, _signal.SIG_DFL)
        except (ValueError, OSError):
            pass
        _watchdog._dump_signal = None


def _install_stack_signal() -> None:
    """On 3.13+ the C core can no longer read Python stacks without the GIL,
    so its fallback reports (the GIL held for good; a hang while the
    interpreter finalizes) get them from faulthandler, registered on a free
    real-time signal with the run log as its file."""
    if _native.own_python_stacks_supported():
        return                     # 3.11-3.12: the C core reads them itself
    import faulthandler  # here: on 3.11-3.12 its module would only cost exit time

    if not hasattr(faulthandler, "register"):
        return
    fd = _native.log_fd()
    signum = _native.free_realtime_signal()
    if fd < 0 or signum == 0:
        return
    faulthandler.register(signum, file=fd, all_threads=True, chain=False)
    _native.watchdog_stack_signal(signum)
    _watchdog._stack_signal = signum


def _uninstall_stack_signal() -> None:
    if _watchdog._stack_signal:
        import faulthandler

        _native.watchdog_stack_signal(0)
        faulthandler.unregister(_watchdog._stack_signal)
        _watchdog._stack_signal = 0


def _install_exit_deadline(config: Config) -> None:
    wd = _watchdog
    wd._timeout = config.exit_timeout
    wd._budget = wd.REPORT_ONLY_AFTER if wd._timeout is None else wd._timeout
    wd._limit_text = "no limit" if wd._timeout is None else f"{wd._timeout:g} s"
    wd._enabled = True
    _qtattach.on_loop_started(wd._reset_exit_deadline)
    _qtattach.on_loop_ended(wd._begin_shutdown_at_loop_end)
    if wd._original_shutdown is None:
        wd._original_shutdown = threading._shutdown  # type: ignore[attr-defined]
        threading._shutdown = wd._shutdown_wrapper  # type: ignore[attr-defined]


def _uninstall_exit_deadline() -> None:
    wd = _watchdog
    wd._enabled = False
    wd._began = None
    if wd._original_shutdown is not None:
        threading._shutdown = wd._original_shutdown  # type: ignore[attr-defined]
        wd._original_shutdown = None
    try:
        _native.watchdog_disarm_exit()
    except Exception:  # noqa: BLE001
        pass


def _install_watchdog(config: Config) -> None:
    """The dump signal, bounded shutdown and freeze detection."""
    _install_stack_signal()
    _install_dump_signal(config)
    _install_exit_deadline(config)
    _watchdog._freeze_ms = config.freeze_ms
    _qtattach.on_loop_started(_watchdog._start_freeze_watch)
    _qtattach.on_loop_ended(_watchdog._stop_freeze_watch)


def _uninstall_watchdog() -> None:
    _watchdog._stop_freeze_watch()
    _uninstall_exit_deadline()
    _uninstall_dump_signal()
    _uninstall_stack_signal()


COMPONENTS = (
    ("threads", _install_threads, _uninstall_threads),
    ("crash", _install_crash, _uninstall_crash),
    ("watchdog", _install_watchdog, _uninstall_watchdog),
)
