"""What pyqtguard was asked to do: :class:`Config`, the checks of
:func:`pyqtguard.install`'s options (:func:`make_config`), the environment
variables that fill in defaults, and the Config in force while installed.

The options are validated once, here: programming errors (a wrong type, a
negative timeout) raise ``TypeError`` or ``ValueError`` naming the argument;
environment variables that do not parse are environmental trouble, warned
about once and ignored.
"""
from __future__ import annotations

import os
import sys
import _thread

import _signal  # the C module: `signal` builds enums, ~1 ms of start-up

from .logs import warn_once

ENV_DISABLE = "PYQTGUARD_DISABLE"
ENV_LOG_DIR = "PYQTGUARD_LOG_DIR"
ENV_EXIT_TIMEOUT = "PYQTGUARD_EXIT_TIMEOUT"
ENV_FREEZE_MS = "PYQTGUARD_FREEZE_MS"
ENV_REPEAT_INTERVAL = "PYQTGUARD_REPEAT_INTERVAL"
ENV_DIALOGS = "PYQTGUARD_DIALOGS"
ENV_CHECK_THREADS = "PYQTGUARD_CHECK_THREADS"
ENV_MAX_LOG_BYTES = "PYQTGUARD_MAX_LOG_BYTES"


class Config:
    """What :func:`pyqtguard.install` was asked to do (read-only).

    A plain class, not a dataclass: importing ``dataclasses`` would cost more
    than all of pyqtguard's start-up budget.
    """

    __slots__ = ("log_dir", "app_name", "keep_logs", "stderr", "exit_timeout",
                 "freeze_ms", "dump_signal", "dump_signal_explicit", "crash_handler",
                 "qt_messages", "guard_children", "repeat_interval", "dialogs", "auto_send",
                 "report_to", "app_version", "scrub", "check_threads", "max_log_bytes")

    log_dir: str | None
    app_name: str
    keep_logs: int
    stderr: bool
    exit_timeout: float | None
    freeze_ms: int
    dump_signal: int | None
    dump_signal_explicit: bool       # the app named the dump signal: take it even if in use
    crash_handler: bool
    qt_messages: bool
    guard_children: bool
    repeat_interval: float
    dialogs: bool
    auto_send: bool
    report_to: tuple[object, ...]
    app_version: str | None
    scrub: object
    check_threads: bool              # widgets used off the GUI thread reported (debugging)
    max_log_bytes: int | None        # the run log's size limit (None: none)

    def __init__(self, **values: object) -> None:
        for name in self.__slots__:
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Config is read-only")

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"Config({fields})"


# The Config in force (None: not installed), set by the installer
# (:mod:`pyqtguard.installer`) under `lock`.
_current: Config | None = None
lock = _thread.RLock()


def installed_config() -> Config | None:
    """The Config in force, or None if pyqtguard is not installed."""
    return _current


def set_installed_config(config: Config | None) -> None:
    """Record *config* as the one in force (None: uninstalled)."""
    global _current
    _current = config


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


# ---- options --------------------------------------------------------------

_UNSET: object = object()
# The shortest freeze threshold: the GUI thread's heartbeat comes every
# max(10 ms, freeze_ms / 10), so a threshold near 10 ms reports an idle app.
MIN_FREEZE_MS = 50
DEFAULT_DUMP_SIGNAL = getattr(_signal, "SIGUSR1", None)
# The longest timeout or interval the C core keeps (about 31.7 years, in
# nanoseconds well inside its 64-bit clock): a longer one (inf, 1e308, an
# int too large for a float) is taken as this, i.e. never in practice.
MAX_SECONDS = 1e9
# The run log's size limit: reports past it are counted, not written
# (src/loglimit.c).  With keep_logs=20, at most 200 MiB of an app's logs.
DEFAULT_MAX_LOG_BYTES = 10 * 1024 * 1024
# The smallest limit: a report with its stacks is a few to tens of KiB.
MIN_MAX_LOG_BYTES = 64 * 1024
# The largest the C core keeps (a larger one is taken as this: no limit in
# practice).
MAX_LOG_BYTES = 2**63 - 1
# The longest freeze threshold the C core keeps (a C int of milliseconds,
# about 24.8 days): a longer one is taken as this.
MAX_FREEZE_MS = 2**31 - 1
# Signals dump_signal must not be: those no handler can take, those the
# crash handler reports, and Ctrl+C and SIGTERM (pyqtguard.interrupts).
_RESERVED_SIGNALS = frozenset(getattr(_signal, name) for name in (
    "SIGKILL", "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT",
    "SIGINT", "SIGTERM") if hasattr(_signal, name))


def disabled_by_env() -> bool:
    """``PYQTGUARD_DISABLE=1`` (or true/yes/on) turns everything off; a value
    that is neither that nor 0/false/no/off is warned about and ignored."""
    return _env_flag(ENV_DISABLE)


def _shown(raw: str) -> str:
    """An environment value as a warning shows it: repr, at most 40 characters."""
    return repr(raw) if len(raw) <= 40 else repr(raw[:40]) + f"... ({len(raw)} characters)"


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
    return MAX_SECONDS if value > MAX_SECONDS else float(value)   # inf: never, in practice


def _check_int(name: str, value: object, *, minimum: int, unit: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int{unit}, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def _check_freeze_ms(value: object) -> int:
    freeze_ms = _check_int("freeze_ms", value, minimum=0)
    if 0 < freeze_ms < MIN_FREEZE_MS:
        raise ValueError(f"freeze_ms must be 0 (off) or >= {MIN_FREEZE_MS}, got {freeze_ms!r}")
    return min(freeze_ms, MAX_FREEZE_MS)


def _check_dump_signal(value: object) -> int:
    signum = _check_int("dump_signal", value, minimum=1)
    nsig = getattr(_signal, "NSIG", 65)
    if signum >= nsig:
        raise ValueError(f"dump_signal must be a signal number below {nsig}, got {signum!r}")
    if signum in _RESERVED_SIGNALS:
        raise ValueError(f"dump_signal must not be signal {signum} (it cannot be caught, "
                         "or pyqtguard reports crashes or handles Ctrl+C/SIGTERM with it)")
    return signum


def _env_number(name: str, *, integer: bool) -> float | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw) if integer else float(raw)
        if value != value or value < 0:
            raise ValueError
    except ValueError:
        warn_once(f"env:{name}", f"ignoring {name}={_shown(raw)}: not a number >= 0")
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
    dialogs: object = _UNSET,
    auto_send: object = False,
    report_to: object = None,
    app_version: object = None,
    scrub: object = None,
    check_threads: object = _UNSET,
    max_log_bytes: object = _UNSET,
) -> Config:
    """Validate :func:`pyqtguard.install`'s arguments; fill in env and defaults."""
    if log_dir is not None and not isinstance(log_dir, (str, os.PathLike)):
        raise TypeError(f"log_dir must be a path or None, not {type(log_dir).__name__}")
    if log_dir is not None:
        log_dir = os.fspath(log_dir)
        if not isinstance(log_dir, str):
            raise TypeError(f"log_dir must be a str path, not {type(log_dir).__name__}")
        if not log_dir.strip():
            raise ValueError("log_dir must not be empty (None: the default folder)")
        if "\0" in log_dir:
            raise ValueError("log_dir must not contain a NUL character")
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
        if env_freeze is not None and env_freeze > MAX_FREEZE_MS:
            env_freeze = MAX_FREEZE_MS
        if env_freeze is not None and 0 < env_freeze < MIN_FREEZE_MS:
            warn_once(f"env:{ENV_FREEZE_MS}", f"ignoring {ENV_FREEZE_MS}={env_freeze}: "
                      f"not 0 (off) or >= {MIN_FREEZE_MS}")
            env_freeze = None
        freeze_ms = 1000 if env_freeze is None else int(env_freeze)
    if repeat_interval is _UNSET:
        env_repeat = _env_number(ENV_REPEAT_INTERVAL, integer=False)
        repeat_interval = 60.0 if env_repeat is None else env_repeat
    dump_signal_explicit = dump_signal is not _UNSET
    if dump_signal is _UNSET:
        dump_signal = DEFAULT_DUMP_SIGNAL
    if dump_signal is not None:
        dump_signal = _check_dump_signal(dump_signal)

    return Config(
        log_dir=os.path.expanduser(os.fspath(log_dir)) if log_dir is not None else None,
        app_name=sanitize_app_name(app_name) if app_name else default_app_name(),
        keep_logs=_check_int("keep_logs", keep_logs, minimum=1),
        stderr=_check_bool("stderr", stderr),
        exit_timeout=_check_number("exit_timeout", exit_timeout, allow_none=True),
        freeze_ms=_check_freeze_ms(freeze_ms),
        dump_signal=dump_signal,  # type: ignore[arg-type]
        dump_signal_explicit=dump_signal_explicit,
        crash_handler=_check_bool("crash_handler", crash_handler),
        qt_messages=_check_bool("qt_messages", qt_messages),
        guard_children=_check_bool("guard_children", guard_children),
        repeat_interval=_check_number("repeat_interval", repeat_interval, allow_none=False),
        **_reporting_options(dialogs, auto_send, report_to, app_version, scrub),
        check_threads=_check_bool("check_threads", _env_flag(ENV_CHECK_THREADS)
                                  if check_threads is _UNSET else check_threads),
        max_log_bytes=_check_max_log_bytes(max_log_bytes),
    )


def _check_max_log_bytes(value: object) -> int | None:
    """None (no limit), an int >= MIN_MAX_LOG_BYTES, or from
    ``$PYQTGUARD_MAX_LOG_BYTES`` (a number of bytes; 0: no limit)."""
    if value is _UNSET:
        env_limit = _env_number(ENV_MAX_LOG_BYTES, integer=True)
        if env_limit is not None and 0 < env_limit < MIN_MAX_LOG_BYTES:
            warn_once(f"env:{ENV_MAX_LOG_BYTES}", f"ignoring {ENV_MAX_LOG_BYTES}="
                      f"{int(env_limit)}: not 0 (no limit) or >= {MIN_MAX_LOG_BYTES}")
            env_limit = None
        if env_limit is None:
            return DEFAULT_MAX_LOG_BYTES
        return min(int(env_limit), MAX_LOG_BYTES) or None
    if value is None:
        return None
    limit = _check_int("max_log_bytes", value, minimum=MIN_MAX_LOG_BYTES,
                       unit=" (bytes) or None (no limit)")
    return min(limit, MAX_LOG_BYTES)


def _env_flag(name: str) -> bool:
    """A yes/no environment variable: 1/true/yes/on, else off; another
    value is warned about once and taken as off."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw not in {"", "0", "false", "no", "off"}:
        warn_once(f"env:{name}", f"ignoring {name}={_shown(raw)}: not 1 or 0")
    return False


def _reporting_options(dialogs: object, auto_send: object, report_to: object,
                       app_version: object, scrub: object) -> dict[str, object]:
    """The dialogs' and reports' options (issue 22); see pyqtguard.reporting."""
    if dialogs is _UNSET:          # e.g. PYQTGUARD_DIALOGS=1 pyqtguard run app.py
        dialogs = _env_flag(ENV_DIALOGS)
    if app_version is not None and not isinstance(app_version, str):
        raise TypeError(f"app_version must be a str or None, not {type(app_version).__name__}")
    destinations: tuple[object, ...] = ()
    if report_to is not None or scrub is not None:
        from .reporting import destinations as report_destinations
        from .reporting import scrub as report_scrub

        destinations = report_destinations.coerce_all(report_to)
        scrub = report_scrub.make_scrubber(scrub)
    return {"dialogs": _check_bool("dialogs", dialogs),
            "auto_send": _check_bool("auto_send", auto_send),
            "report_to": destinations, "app_version": app_version, "scrub": scrub}


def unknown_option(options: dict[str, object]) -> str | None:
    """The first of *options* that :func:`make_config` does not take (its
    message names ``install()`` and the options there are), or None."""
    code = make_config.__code__
    known = code.co_varnames[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]
    for name in options:
        if name not in known:
            return (f"install() got an unexpected keyword argument {name!r}; its options: "
                    f"{', '.join(known)}")
    return None

