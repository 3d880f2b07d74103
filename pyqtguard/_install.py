"""install() and uninstall(): one switch over every component.

A component is a module with ``install(config)`` and ``uninstall()``.  They are
installed in the order below and uninstalled in reverse.  A component that
fails to install for environmental reasons warns once and is skipped; the
others still work.
"""
from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
import time

from . import _config, _native, _qtattach, logfile
from ._warn import warn_once

# Each later feature adds one line here.
COMPONENTS: tuple[str, ...] = (
    "pyqtguard._exceptions",
    "pyqtguard._threadnames",
    "pyqtguard._crash",
    "pyqtguard._qtmessages",
    "pyqtguard._qthreads",
    "pyqtguard._eventloop",
    "pyqtguard._watchdog",
    "pyqtguard._freeze",
    "pyqtguard._exitwatch",
)

# Components that matter only once a module is imported: installed then, so
# an app that never imports it never pays for them.  trigger -> component.
DEFERRED_COMPONENTS: dict[str, str] = {
    "multiprocessing.util": "pyqtguard._spawnguard",
}

_installed: _config.Config | None = None
_lock = threading.RLock()


def _run_log_header(config: _config.Config) -> str:
    from . import __version__

    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
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


def install(**options: object) -> _config.Config | None:
    """See :func:`pyqtguard.install`."""
    global _installed
    config = _config.make_config(**options)
    if _config.disabled_by_env():
        return None
    with _lock:
        if _installed is not None:
            return _installed  # idempotent
        folder = logfile._resolve(config.log_dir, config.app_name)
        logfile.open_run_log(folder, config.keep_logs, _run_log_header(config))
        _native.set_stderr_fd(_stderr_fd() if config.stderr else -1)
        for name in COMPONENTS:
            try:
                importlib.import_module(name).install(config)
            except Exception as exc:  # noqa: BLE001 - keep going with what works
                warn_once(f"component:{name}", f"{name} not installed: {exc!r}")
        _installed = config
        for trigger, name in DEFERRED_COMPONENTS.items():
            _qtattach.when_imported(trigger, _deferred_installer(name, config))
        atexit.register(_at_exit)
        return config


def _deferred_installer(name: str, config: _config.Config) -> object:
    def install_component(module: object) -> None:
        if _installed is not config:
            return                              # uninstalled (or reinstalled) since
        try:
            importlib.import_module(name).install(config)
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
        _installed = None
        atexit.unregister(_at_exit)


def installed_config() -> _config.Config | None:
    """The Config in force, or None if pyqtguard is not installed."""
    return _installed


def _at_exit() -> None:
    logfile.write(time.strftime("[%Y-%m-%d %H:%M:%S UTC] ", time.gmtime())
                  + "pyqtguard: interpreter exit\n")
