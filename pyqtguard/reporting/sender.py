"""Sending reports on a worker thread, never on the GUI thread.

One daemon thread, ``pyqtguard-report-sender``, started at the first report,
takes jobs in order.  Each destination's ``send`` gets :data:`TIMEOUT` for
each network operation and runs on a thread of its own that is waited for
at most :data:`DEADLINE` seconds in all: a server that drips a byte a
second, a name lookup that never ends or an app's callable that blocks is
left behind (at most :data:`MAX_STUCK` at a time; while they are, later
reports are kept without trying), and the queue goes on.  Each report is
kept (:mod:`pyqtguard.reporting.unsent`) when it is queued and deleted once
delivered: one that could not be delivered, or was queued or on its way when
the process ended, is sent at a later start.  The outcome goes back to the
GUI thread (a dialog's status line) when a Qt application runs.

Example::

    submit(destination, report, log_folder, on_done=lambda ok, why: print(ok, why))
"""
from __future__ import annotations

import os
import queue
import re
import threading

from ..registry import renewed_in_fork_children
from .. import logs as runlog
from ..qt import guithread
from . import unsent

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .destinations import Destination
    from .report import Report

TIMEOUT = 10.0          # each network operation: connect, TLS, one read
DEADLINE = 30.0         # one send in all
MAX_STUCK = 2           # sends past their deadline still running, at most
THREAD_NAME = "pyqtguard-report-sender"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

_jobs: queue.Queue[tuple[object, ...] | None] = queue.Queue()
_thread: threading.Thread | None = None
_lock = renewed_in_fork_children(threading.Lock())
# The reports queued in the parent are the parent's to send: a child that
# sent them too sent each twice (and kept a copy of each that failed).  Its
# queue starts empty, its lock made anew (a parent thread may have been in
# put() or get()).
renewed_in_fork_children(_jobs.not_empty)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_jobs.queue.clear)
_stuck: list[threading.Thread] = []     # the sender thread's own


def _ensure_thread() -> None:
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name=THREAD_NAME, daemon=True)
            _thread.start()


def submit(destination: Destination, report: Report, log_folder: str | None, *,
           pending: unsent.Pending | None = None,
           automatic: bool = False,
           on_done: Callable[[bool, str], object] | None = None) -> None:
    """Queue *report* for *destination*, kept first (a small file written
    in the caller's thread: a report queued when the app quits is not
    lost); returns without waiting for the network.  *automatic*: sent
    without a click (``auto_send``), so kept for ``auto_send`` only."""
    if pending is None:
        pending = _outbox(destination, report, log_folder, automatic)
    _jobs.put((destination, report, pending, on_done))
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


def _outbox(destination: Destination, report: Report, log_folder: str | None,
            automatic: bool) -> unsent.Pending | None:
    """Keep *report* before sending it (deleted once sent): a process that
    exits while a report is queued or on its way loses nothing - the next
    start sends it."""
    if not destination.keeps_unsent or log_folder is None:
        return None
    try:
        path = unsent.keep(log_folder, destination.key, report, automatic=automatic)
    except OSError as exc:
        runlog.warn_once("report:keep", f"cannot keep unsent reports in {log_folder}: {exc}")
        return None
    return unsent.Pending(path, destination.key, report, 0, automatic)


def one_line(text: str) -> str:
    """*text* with its control characters (line breaks, NUL, escape
    sequences: a server's or an app's words) written as ``\\xNN``, so that
    it stays one line of the log and of a status line."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match[0]):02x}", text)


def _attempt(destination: Destination, report: Report) -> str | None:
    """``destination.send`` on a thread of its own, waited for at most
    :data:`DEADLINE` s: None once delivered, else why not.  A send past its
    deadline is left to finish (or not) on its own and its outcome ignored;
    while :data:`MAX_STUCK` are, no new one is started."""
    _stuck[:] = [thread for thread in _stuck if thread.is_alive()]
    if len(_stuck) >= MAX_STUCK:
        return f"{len(_stuck)} earlier sends are still waiting for an answer"
    outcome: list[BaseException | None] = []

    def send() -> None:
        try:
            destination.send(report, TIMEOUT)
        except BaseException as exc:  # noqa: BLE001 - SystemExit from an app's callable too
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=send, name=THREAD_NAME, daemon=True)
    try:
        thread.start()
    except RuntimeError:    # 3.12+: an atexit handler runs, no thread starts
        return "not tried: the app is exiting"
    thread.join(DEADLINE)
    if not outcome:
        _stuck.append(thread)
        return f"no answer within {DEADLINE:g} s"
    error = outcome[0]
    return None if error is None else f"{type(error).__name__}: {error}"


def _send_one(destination: Destination, report: Report,
              pending: unsent.Pending | None) -> tuple[bool, str]:
    failure = _attempt(destination, report)
    if failure is not None:        # offline is normal: keep it
        why = one_line(failure)[:300]
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
        destination, report, pending, on_done = job
        ok, why = _send_one(destination, report, pending)  # type: ignore[arg-type]
        _deliver(on_done, ok, why)  # type: ignore[arg-type]
