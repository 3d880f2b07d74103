"""Sending reports on a worker thread, never on the GUI thread.

One daemon thread, ``pyqtguard-report-sender``, started at the first report,
takes jobs in order; each destination's ``send`` gets a timeout.  Each report
is kept (:mod:`pyqtguard.reporting.unsent`) before it is sent and deleted
once delivered: one that could not be delivered, or was on its way when the
process ended, is sent at a later start.  The outcome goes back to the GUI thread (a dialog's status
line) when a Qt application runs.

Example::

    submit(destination, report, log_folder, on_done=lambda ok, why: print(ok, why))
"""
from __future__ import annotations

import queue
import threading

from .. import logs as runlog
from ..qt import guithread
from . import unsent

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .destinations import Destination
    from .report import Report

TIMEOUT = 10.0

_jobs: queue.Queue[tuple[object, ...] | None] = queue.Queue()
_thread: threading.Thread | None = None
_lock = threading.Lock()


def _ensure_thread() -> None:
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="pyqtguard-report-sender", daemon=True)
            _thread.start()


def submit(destination: Destination, report: Report, log_folder: str | None, *,
           pending: unsent.Pending | None = None,
           on_done: Callable[[bool, str], object] | None = None) -> None:
    """Queue *report* for *destination*; returns at once."""
    _jobs.put((destination, report, log_folder, pending, on_done))
    _ensure_thread()


def wait_idle(timeout: float | None = None) -> bool:
    """Wait until every queued report was handled; False on timeout."""
    done = threading.Event()
    _jobs.put(("barrier", done))
    _ensure_thread()
    return done.wait(timeout)


def _deliver(on_done: Callable[[bool, str], object] | None, ok: bool, why: str) -> None:
    if on_done is None:
        return

    def call() -> None:
        try:
            on_done(ok, why)
        except Exception as exc:  # noqa: BLE001 - a dialog gone meanwhile
            runlog.warn_once("report:on_done", f"report status callback failed: {exc!r}")

    if not guithread.post_to_gui_thread(call):
        call()


def _outbox(destination: Destination, report: Report,
            log_folder: str | None) -> unsent.Pending | None:
    """Keep *report* before sending it (deleted once sent): a process that
    exits while a report is on its way loses nothing - the next start
    sends it."""
    if not destination.keeps_unsent or log_folder is None:
        return None
    try:
        path = unsent.keep(log_folder, destination.key, report)
    except OSError as exc:
        runlog.warn_once("report:keep", f"cannot keep unsent reports in {log_folder}: {exc}")
        return None
    return unsent.Pending(path, destination.key, report, 0)


def _send_one(destination: Destination, report: Report, log_folder: str | None,
              pending: unsent.Pending | None) -> tuple[bool, str]:
    if pending is None:
        pending = _outbox(destination, report, log_folder)
    try:
        destination.send(report, TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - offline is normal: keep it
        why = f"{type(exc).__name__}: {exc}"[:300]
        if pending is not None:
            pending.failed()
            why += " (kept; it will be sent at a later start)"
        runlog.log_event(f"pyqtguard: report {report.title[:80]!r} not sent to "
                         f"{destination.key.split(':', 1)[0]}: {why}")
        return False, why
    if pending is not None:
        pending.done()
    runlog.log_event(f"pyqtguard: report {report.title[:80]!r} sent to "
                     f"{destination.key.split(':', 1)[0]}")
    return True, "sent"


def _run() -> None:
    while True:
        job = _jobs.get()
        if job is None:
            return
        if job[0] == "barrier":
            job[1].set()  # type: ignore[attr-defined]
            continue
        destination, report, log_folder, pending, on_done = job
        ok, why = _send_one(destination, report, log_folder, pending)  # type: ignore[arg-type]
        _deliver(on_done, ok, why)  # type: ignore[arg-type]
