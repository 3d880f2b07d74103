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

from . import _native
from . import exceptions as exception_hooks
from . import logs as runlog
from . import qt as qt_attach
from . import watchdog
from .config import (Config, disabled_by_env, installed_config, lock, make_config,
                     set_installed_config, unknown_option)
from .logs import folder as log_folder
from .logs import warn_once
from .registry import tracking as thread_tracking

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def _always(config: Config) -> bool:
    return True


# (name, module with install(config) and uninstall(), wanted): installed in
# this order when wanted(config), uninstalled in reverse.  A module is loaded
# only when wanted: an app that leaves a guard off does not import it (each
# module costs every app's start-up and exit).
COMPONENTS: tuple[tuple[str, str, Callable[[Config], bool]], ...] = (
    ("exception hooks", "pyqtguard.exceptions", _always),
    ("thread tracking", "pyqtguard.registry.tracking", _always),
    ("crash handler", "pyqtguard.crashes", lambda config: config.crash_handler),
    ("Qt messages", "pyqtguard.crashes.qt_messages", lambda config: config.qt_messages),
    ("dump signal", "pyqtguard.watchdog.dump", _always),   # also 3.13+'s stack signal
    ("bounded exit", "pyqtguard.watchdog.exit", _always),
    ("freeze detection", "pyqtguard.watchdog.freeze", _always),
    ("Ctrl+C and SIGTERM", "pyqtguard.interrupts", _always),   # after bounded exit's loop end
    ("reporting", "pyqtguard.reporting",
     lambda config: bool(config.report_to) or config.dialogs),
    ("dialogs", "pyqtguard.dialogs", lambda config: config.dialogs),
    ("wrong-thread check", "pyqtguard.qt.wrongthread", lambda config: config.check_threads),
)

# Components that matter only once a module is imported: installed then.
# (trigger module, component module).
DEFERRED_COMPONENTS: tuple[tuple[str, str], ...] = (
    ("multiprocessing.util", "pyqtguard.children.parent"),     # spawn/forkserver children
    ("multiprocessing.util", "pyqtguard.children.forkworkers"),  # fork workers' end
)


def install(**options: object) -> Config | None:
    """See :func:`pyqtguard.install`.

    Example::

        from pyqtguard import installer
        installer.install(app_name="photo-editor")
    """
    try:
        config = make_config(**options)
    except TypeError:
        unknown = unknown_option(options)
        if unknown is None:
            raise
        # from None: the chained make_config() error names an internal function.
        raise TypeError(unknown) from None
    if disabled_by_env():
        return None
    if not _native.in_main_interpreter():
        # A legacy subinterpreter (shared GIL) loads the C core, whose state
        # is the process's: a second install() there would begin a second run
        # log, or guard the process from an interpreter that will be gone.
        from . import subinterpreters

        return subinterpreters.not_installed_here(stacklevel=4)  # install()'s caller
    child = sys.modules.get("pyqtguard.children.child")
    if child is not None and child.is_forkserver():
        return None       # 3.14's forkserver preloading the main module: not a worker
    if getattr(sys, "frozen", False):
        _frozen_child(config)                   # a frozen app's child: ends there
    with lock:
        current = installed_config()
        if current is not None:                 # idempotent: the first options stay
            _warn_if_ignored(options, config, current)
            return current
        if runlog.run_log_path() is not None:   # after uninstall(): the same run log
            runlog.log_event(runlog.REINSTALLED_EVENT)
        run_log = log_folder.open_run_log(config)
        _native.set_stderr_fd(_stderr_fd() if config.stderr else -1)
        for name, module, wanted in COMPONENTS:
            try:
                if wanted(config):
                    __import__(module)
                    sys.modules[module].install(config)
            except Exception as exc:  # noqa: BLE001 - keep going with what works
                warn_once(f"component:{name}", f"{name} not installed: {exc!r}")
        set_installed_config(config)
        if run_log is not None:
            log_folder.prune_old_runs(run_log, config.keep_logs)  # by the watchdog, if it runs
        for trigger, name in DEFERRED_COMPONENTS:
            qt_attach.when_imported(trigger, _deferred_installer(name, config))
        atexit.register(at_exit)
        try:
            qt_attach.adopt_running_loop()      # install() from inside app.exec()
        except Exception as exc:  # noqa: BLE001
            warn_once("component:running loop", f"the running event loop not watched: {exc!r}")
        return config


def uninstall() -> None:
    """See :func:`pyqtguard.uninstall`."""
    with lock:
        if installed_config() is None:
            return
        loaded = [(name, sys.modules.get(module)) for name, module, _ in reversed(COMPONENTS)]
        loaded[:0] = [(name, sys.modules.get(name)) for _, name in DEFERRED_COMPONENTS]
        for name, component in loaded:
            if component is None:
                continue                        # never wanted, never loaded
            try:
                component.uninstall()
            except Exception as exc:  # noqa: BLE001
                warn_once(f"uninstall:{name}", f"{name} uninstall failed: {exc!r}")
        qt_attach.unwrap_event_loops()
        set_installed_config(None)
        atexit.unregister(at_exit)
        # The run log stays this process's (a later install() goes on in it);
        # `pyqtguard logs` reads this line as the end of what was watched.
        runlog.log_event(runlog.UNINSTALLED_EVENT)


# pyqtguard.install()'s defaults of the arguments it always passes on.
_PASSED_DEFAULTS: dict[str, object] = {"log_dir": None, "app_name": None, "keep_logs": 20,
                                       "stderr": True}


def _warn_if_ignored(options: dict[str, object], asked: Config, current: Config) -> None:
    """install() again asking for something else than what is in force (say
    `pyqtguard run` installed first, then the app with its own options):
    those options are ignored - say so, once."""
    ignored = []
    for name, value in options.items():
        if name in _PASSED_DEFAULTS and value == _PASSED_DEFAULTS[name]:
            continue                            # not asked for
        mine, theirs = getattr(asked, name, value), getattr(current, name, None)
        if mine != theirs and repr(mine) != repr(theirs):
            ignored.append(f"{name}={value!r}")
    if ignored:
        warn_once("install:again", "already installed: install() again ignores "
                  + ", ".join(ignored) + " (the options of the first install() stay in "
                  "force; uninstall() first to change them)")


def _frozen_child(config: Config) -> None:
    """A frozen app (PyInstaller, cx_Freeze) started as a multiprocessing
    child, resource tracker or forkserver is handed to multiprocessing here,
    guarded, and ends there (:mod:`pyqtguard.children.frozen`,
    :mod:`pyqtguard.children.helpers`).  Any other frozen app: nothing
    imported, nothing changed."""
    argv = sys.argv
    if not config.guard_children or len(argv) < 2:
        return
    if argv[1] == "--multiprocessing-fork":
        name = "pyqtguard.children.frozen"
    elif "-c" in argv:
        name = "pyqtguard.children.helpers"
    else:
        return
    try:
        __import__(name)
    except Exception as exc:  # noqa: BLE001
        warn_once("component:frozen child", f"frozen child guard not loaded: {exc!r}")
        return
    sys.modules[name].hand_over(config)


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
    runlog.note_reports_left_out()
    runlog.log_event("pyqtguard: interpreter exit")
    # From here on Python cannot write a report: the exit deadline moves from
    # the watchdog thread to a timer (see src/watchdog.c).
    bounded_exit = sys.modules.get("pyqtguard.watchdog.exit")
    if bounded_exit is not None:
        bounded_exit.before_hand_off()
    watchdog.hand_off()
    # What Qt keeps to the end must not keep pyqtguard alive through the
    # teardown (see pyqtguard.qt.detach_at_exit).
    qt_attach.detach_at_exit()
    # QThreads still running must not call into Python while they are ended
    # during the teardown (see pyqtguard.registry.qthreads.detach_at_exit).
    thread_tracking.detach_at_exit()
    exception_hooks.detach_at_exit()
