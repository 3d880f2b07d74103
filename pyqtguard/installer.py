"""The installer: :func:`install` and :func:`uninstall` put every guard in
and take it out, in order, and keep one failing guard from stopping the rest.

Each guard (a *component*) owns its state and has an ``install(config)`` and
an ``uninstall()`` of its own, next to that state; the installer only orders
them and handles their failures:

- installed in the order of :data:`COMPONENTS`, uninstalled in reverse;
- a component that fails to install for environmental reasons warns once and
  is skipped; the others still work;
- a deferred component (:data:`DEFERRED_COMPONENTS`) is installed when the
  module it needs is imported, so an app that never imports it never pays.

Option checks live in :mod:`pyqtguard.config`; where run logs live, in
:mod:`pyqtguard.logs.folder`.
"""
from __future__ import annotations

import atexit
import sys

from . import _native, dialogs, reporting
from .config import Config, disabled_by_env, installed_config, lock, make_config, set_installed_config
from .crashes import handler as crash_handler
from .crashes import qt_messages
from . import interrupts
from .exceptions import hooks as exception_hooks
from .logs import folder as log_folder
from .logs import runlog
from .logs.runlog import warn_once
from .qt import attach as qt_attach
from .registry import tracking as thread_tracking
from .watchdog import core as watchdog
from .watchdog import dump as dump_signal
from .watchdog import exit as bounded_exit
from .watchdog import freeze as freeze_watch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

# (name, module with install(config) and uninstall()), in install order.
COMPONENTS: tuple[tuple[str, ModuleType], ...] = (
    ("exception hooks", exception_hooks),
    ("thread tracking", thread_tracking),
    ("crash handler", crash_handler),
    ("Qt messages", qt_messages),
    ("dump signal", dump_signal),
    ("bounded exit", bounded_exit),
    ("freeze detection", freeze_watch),
    ("Ctrl+C and SIGTERM", interrupts),   # after bounded exit: its loop-end callback first
    ("reporting", reporting),
    ("dialogs", dialogs),
)

# Components that matter only once a module is imported: installed then.
# trigger module -> component module.
DEFERRED_COMPONENTS: dict[str, str] = {
    "multiprocessing.util": "pyqtguard.children.parent",
}


def install(**options: object) -> Config | None:
    """See :func:`pyqtguard.install`.

    Example::

        from pyqtguard import installer
        installer.install(app_name="photo-editor")
    """
    config = make_config(**options)
    if disabled_by_env():
        return None
    with lock:
        current = installed_config()
        if current is not None:
            return current                      # idempotent
        run_log = log_folder.open_run_log(config)
        _native.set_stderr_fd(_stderr_fd() if config.stderr else -1)
        for name, component in COMPONENTS:
            try:
                component.install(config)
            except Exception as exc:  # noqa: BLE001 - keep going with what works
                warn_once(f"component:{name}", f"{name} not installed: {exc!r}")
        set_installed_config(config)
        if run_log is not None:
            log_folder.prune_old_runs(run_log, config.keep_logs)  # by the watchdog, if it runs
        for trigger, name in DEFERRED_COMPONENTS.items():
            qt_attach.when_imported(trigger, _deferred_installer(name, config))
        atexit.register(at_exit)
        return config


def uninstall() -> None:
    """See :func:`pyqtguard.uninstall`."""
    with lock:
        if installed_config() is None:
            return
        components = [(name, component) for name, component in reversed(COMPONENTS)]
        for name in DEFERRED_COMPONENTS.values():
            module = sys.modules.get(name)
            if module is not None:
                components.insert(0, (name, module))
        for name, component in components:
            try:
                component.uninstall()
            except Exception as exc:  # noqa: BLE001
                warn_once(f"uninstall:{name}", f"{name} uninstall failed: {exc!r}")
        qt_attach.unwrap_event_loops()
        set_installed_config(None)
        atexit.unregister(at_exit)


def _stderr_fd() -> int:
    try:
        return sys.stderr.fileno() if sys.stderr is not None else -1
    except (AttributeError, OSError, ValueError):
        return -1


def _deferred_installer(component: str, installed: Config) -> Callable[[object], None]:
    """A callback that installs *component* when the module it watches is
    imported, if *installed* is still the Config in force then."""
    def install_component(module: object) -> None:
        if installed_config() is not installed:
            return                              # uninstalled (or reinstalled) since
        try:
            __import__(component)
            sys.modules[component].install(installed)
        except Exception as exc:  # noqa: BLE001
            warn_once(f"component:{component}", f"{component} not installed: {exc!r}")

    return install_component


def at_exit() -> None:
    """Registered with :mod:`atexit` by :func:`install`."""
    # Reports still queued (see src/exchooks.c) are written now; from here
    # on each is written in the hook itself.
    exception_hooks.flush_at_exit()
    runlog.log_event("pyqtguard: interpreter exit")
    # From here on Python cannot write a report: the exit deadline moves from
    # the watchdog thread to a timer (see src/watchdog.c).
    watchdog.hand_off()
    # What Qt keeps to the end must not keep pyqtguard alive through the
    # teardown (see pyqtguard.qt.attach.detach_at_exit).
    qt_attach.detach_at_exit()
    # QThreads still running must not call into Python while they are ended
    # during the teardown (see pyqtguard.registry.qthreads.detach_at_exit).
    thread_tracking.detach_at_exit()
    exception_hooks.detach_at_exit()
