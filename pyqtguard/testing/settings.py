"""The plugin's settings: each from its command-line option, else its ini key.

A value that does not parse is a usage error naming the option, as pytest
reports its own.
"""
from __future__ import annotations

import pytest

MODES = ("fail", "warn", "off")


def _value(config: pytest.Config, option: str, ini: str) -> object:
    value = config.getoption(option)
    return config.getini(ini) if value is None else value


def _mode(config: pytest.Config, option: str, ini: str) -> str:
    value = str(_value(config, option, ini)).strip().lower()
    if value not in MODES:
        raise pytest.UsageError(f"{ini} must be one of {', '.join(MODES)}, not {value!r}")
    return value


def _number(config: pytest.Config, option: str, ini: str, kind: type) -> float:
    raw = _value(config, option, ini)
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{ini} must be a number, not {raw!r}") from None
    if value != value or value < 0:
        raise pytest.UsageError(f"{ini} must be >= 0, not {raw!r}")
    return value  # type: ignore[no-any-return]


class Settings:
    """What the plugin was asked to check (read-only after start).

    Example::

        settings = Settings.from_config(config)
        if settings.leaks == "fail": ...
    """

    __slots__ = ("leaks", "leak_grace", "widgets", "exceptions", "freeze_ms",
                 "exit_timeout", "check", "check_threads")

    def __init__(self, *, leaks: str = "fail", leak_grace: float = 1.0, widgets: bool = False,
                 exceptions: str = "fail", freeze_ms: int = 0, exit_timeout: float = 30.0,
                 check: bool = False, check_threads: str = "off") -> None:
        self.leaks = leaks
        self.leak_grace = leak_grace
        self.widgets = widgets
        self.exceptions = exceptions
        self.freeze_ms = freeze_ms
        self.exit_timeout = exit_timeout
        self.check = check
        self.check_threads = check_threads

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        widgets = _value(config, "--pyqtguard-widgets", "pyqtguard_widgets")
        check = _value(config, "--pyqtguard-check", "pyqtguard_check")
        return cls(
            leaks=_mode(config, "--pyqtguard-leaks", "pyqtguard_leaks"),
            leak_grace=_number(config, "--pyqtguard-leak-grace", "pyqtguard_leak_grace", float),
            widgets=bool(widgets),
            exceptions=_mode(config, "--pyqtguard-exceptions", "pyqtguard_exceptions"),
            freeze_ms=int(_number(config, "--pyqtguard-freeze-ms", "pyqtguard_freeze_ms", int)),
            exit_timeout=_number(config, "--pyqtguard-exit-timeout", "pyqtguard_exit_timeout",
                                 float),
            check=bool(check),
            check_threads=_mode(config, "--pyqtguard-check-threads", "pyqtguard_check_threads"),
        )
