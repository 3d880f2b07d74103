"""Guarded workers: run functions and generators off the GUI thread, with
results, errors, progress and cancellation delivered to the GUI thread, and a
shutdown that never hangs.

    >>> from pyqtguard import workers
    >>> @workers.thread_worker
    ... def download(url, state):
    ...     for percent, chunk in fetch(url):
    ...         if state.cancelled:
    ...             return None
    ...         state.progress(percent)
    ...     return "done"
    >>> worker = download("https://example.org/big.bin")
    >>> worker.progress.connect(progress_bar.setValue)
    >>> worker.returned.connect(status.setText)
    >>> cancel_button.clicked.connect(worker.cancel)

Requires a QApplication.  Events arrive in the GUI thread in the order
started, progress/yielded, returned|errored|cancelled, finished.
"""
from __future__ import annotations

from ._futures import FutureWorker, watch_future
from ._gui_call import call_in_gui
from ._shutdown import ShutdownOnClose, shutdown, shutdown_on_close
from ._startup import StagedStartup
from ._worker import Worker, WorkerState, active_workers, run_in_worker, thread_worker

__all__ = ["FutureWorker", "ShutdownOnClose", "StagedStartup", "Worker", "WorkerState",
           "active_workers", "call_in_gui", "run_in_worker", "shutdown", "shutdown_on_close",
           "thread_worker", "watch_future"]
