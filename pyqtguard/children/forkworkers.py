"""multiprocessing's ``fork`` workers write their end of run, as an app does
at exit.

multiprocessing ends a ``fork`` worker (a Pool's, a ProcessPoolExecutor's, a
Process's) with ``os._exit()`` once its own finalizers have run: no
:mod:`atexit`, so the worker's counts of repeated exceptions and of reports a
full log left out, and its queued reports, were never written.  Each fork
child asks multiprocessing for a finalizer of its own (multiprocessing empties
its registry in the child before the worker runs: an after-fork callback of
its own, run after that, adds it).

Installed when ``multiprocessing.util`` is imported (the installer's
deferred components): an app without multiprocessing never loads this.

Example::

    from pyqtguard.children import forkworkers
    forkworkers.install(config)     # done by the installer
"""
from __future__ import annotations

import os
import sys

from .. import logs as runlog
from ..config import installed_config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..config import Config

_registered = False


class _ForkWorker:
    """The object multiprocessing's after-fork registry keeps (weakly)."""


_FORK_WORKER = _ForkWorker()


def install(config: Config | None = None) -> None:
    """Register the after-fork hook, once per process (it cannot be taken
    back: it does nothing while pyqtguard is not installed)."""
    global _registered
    if _registered or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(after_in_child=_after_fork_in_child)
    _registered = True


def uninstall() -> None:
    """Nothing to undo: the hook checks that pyqtguard is installed."""


def _after_fork_in_child() -> None:
    if installed_config() is None:
        return
    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return                                  # not a multiprocessing worker
    try:
        util.register_after_fork(_FORK_WORKER, _add_worker_finalizer)
    except Exception:  # noqa: BLE001 - never in the way of the fork
        pass


def _add_worker_finalizer(_obj: object) -> None:
    util = sys.modules.get("multiprocessing.util")
    if util is not None and installed_config() is not None:
        util.Finalize(None, _fork_worker_exit, exitpriority=-100)


def _fork_worker_exit() -> None:
    """The end of a multiprocessing ``fork`` worker: what the installer's
    ``at_exit`` writes about it (once per process: a worker that exits
    through atexit too writes it once)."""
    if installed_config() is None:
        return
    try:
        sys.modules["pyqtguard.exceptions"].flush_at_exit()
        runlog.note_reports_left_out()
    except Exception:  # noqa: BLE001 - the worker is ending
        pass
