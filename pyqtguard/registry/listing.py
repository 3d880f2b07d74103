"""Every thread in the process, named: the thread registry.

    >>> for thread in pyqtguard.threads():
    ...     print(thread.name, thread.kind, thread.native_id, thread.started_at)
    >>> pyqtguard.dump_threads()          # table + every Python stack, into the run log

Python threads come from :mod:`threading`, QThreads (and the threads of
pyqtguard's workers) from pyqtguard's table, and native threads - started by a
library, by Qt's thread pool, by a driver - from the operating system
(``/proc/self/task`` on Linux; ``task_threads`` on macOS; a Toolhelp snapshot on
Windows).  Finished threads leave the registry: nothing is kept for them.
"""
from __future__ import annotations

import _thread
import os
import sys
import time

from .. import _native
from . import loaded_threading, main_thread_elsewhere
from .frames import app_frames

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO

# Threads pyqtguard itself runs; listed by threads(all=True) only.  By their
# exact names (Python's, or the OS's, cut at 15 bytes): an app's thread named
# "pyqtguard-sync" is the app's and is listed.
OWN_THREAD_NAMES = frozenset((
    "pyqtguard-report",            # watchdog/__init__.py HELPER_NAME
    "pyqtguard-rep",               # src/watchdog.c, the reporter's OS name
    "pyqtguard-wdog",              # src/watchdog.c
    "pyqtguard-prune",             # src/logprune.c
    "pyqtguard-report-sender",     # reporting/sender.py
    "pyqtguard-childwatch",        # children/parent.py
    "pyqtguard-dialogs-warm-up",   # dialogs/__init__.py
))
_KINDS = {0: "python", 1: "main", 2: "qthread", 3: "pool", 4: "native"}


def _started_by_proc() -> float | None:
    """Linux: field 22 of /proc/self/stat (clock ticks after boot) against
    CLOCK_BOOTTIME; None elsewhere, where "/proc/self/stat" names an
    ordinary file (on Windows, of the current drive: anyone's to create)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read(4096).rpartition(b")")[2].split()
        ticks = int(fields[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return time.time() - max(0.0, age)


def _process_started() -> float:
    """When this process started, as ``time.time()`` would have said then:
    the main thread's age in the table.  Linux: from /proc.  Elsewhere: when
    the run log was created (its name says so, to the millisecond), or -
    without one - now, when this module is first loaded."""
    started = _started_by_proc()
    if started is not None:
        return started
    from ..logs import run_log_path

    path = run_log_path()
    name = os.path.basename(path) if path else ""
    parts = name.split("-")
    if len(parts) == 5 and len(parts[2]) == 9 and (parts[1] + parts[2]).isdigit():
        import calendar

        day, clock = parts[1], parts[2]
        when = time.strptime(day + clock[:6], "%Y%m%d%H%M%S")
        return calendar.timegm(when) + int(clock[6:]) / 1000
    return time.time()


_PROCESS_STARTED = _process_started()


class ThreadInfo:
    """One thread, as :func:`threads` saw it.

    Attributes: ``name``, ``native_id``, ``ident`` (Python's, or None for a
    thread Python does not know), ``kind`` (``"main"``, ``"python"``,
    ``"qthread"``, ``"pool"`` or ``"native"``), ``daemon`` (None when not a
    Python thread), ``alive``, ``started`` (``time.time()`` of its start, or
    None), ``started_at`` (``"file.py:12"`` of the start call, or None) and
    ``stack`` (the formatted Python stack, when asked for).
    """

    __slots__ = ("name", "native_id", "ident", "kind", "daemon", "alive", "started",
                 "started_at", "stack")

    def __init__(self, name: str, native_id: int | None, ident: int | None, kind: str,
                 daemon: bool | None = None, alive: bool = True,
                 started: float | None = None, started_at: str | None = None,
                 stack: str | None = None) -> None:
        self.name = name
        self.native_id = native_id
        self.ident = ident
        self.kind = kind
        self.daemon = daemon
        self.alive = alive
        self.started = started
        self.started_at = started_at
        self.stack = stack

    def __repr__(self) -> str:
        return (f"ThreadInfo({self.name!r}, kind={self.kind!r}, native_id={self.native_id},"
                f" started_at={self.started_at!r})")


def format_app_stack(frame: object, *, where_it_is: bool = True) -> str:
    """The stack from *frame* outwards, most recent call last, as a
    traceback prints it, with :func:`app_frames`' frames only (*where_it_is*
    as there: False for the thread asking, whose innermost pyqtguard frames
    are the asking)."""
    import traceback

    summary = traceback.extract_stack(frame)  # type: ignore[arg-type]
    kept = app_frames([entry.filename for entry in summary], where_it_is=where_it_is)
    if len(kept) != len(summary):
        summary = traceback.StackSummary.from_list([summary[index] for index in kept])
    return "".join(summary.format())


_format_stack = format_app_stack


def python_stack(native_id: int | None) -> str | None:
    """The current Python stack (most recent call last) of the thread with
    this native id, or None if it runs no Python."""
    idents = {native: ident for ident, native in _native.python_thread_ids()}
    frame = _native.current_frames().get(idents.get(native_id or 0, -1))
    return _format_stack(frame) if frame is not None else None


def _qthread_records() -> dict[int, tuple[str, float | None, str | None]]:
    """native id -> (name, started, started_at) for running QThreads."""
    qthreads = sys.modules.get("pyqtguard.registry.qthreads")
    return qthreads.running_by_native_id() if qthreads is not None else {}


def threads(*, stacks: bool = False, all: bool = False) -> list[ThreadInfo]:  # noqa: A002
    """A snapshot of every thread in the process.

    Args:
        stacks: also format each Python thread's current stack (``.stack``).
        all: include pyqtguard's own threads.

    Example::

        for t in pyqtguard.threads():
            if t.kind == "native":
                print("a library's thread:", t.name, t.native_id)
    """
    frames = _native.current_frames() if stacks else {}
    asking = _thread.get_ident()
    table = {native_id: (ident, name, kind)
             for native_id, ident, name, kind in _native.thread_table()}
    qthreads = _qthread_records()
    tracker = sys.modules.get("pyqtguard.registry.tracking")
    start_of = tracker.start_of if tracker is not None else (lambda thread: (None, None))
    result: list[ThreadInfo] = []
    seen: set[int] = set()
    python_idents = {native: ident for ident, native in _native.python_thread_ids()}
    native_of = {ident: native for native, ident in python_idents.items()}
    threading = loaded_threading()               # None: no thread is threading's
    main = threading.main_thread() if threading is not None else None
    # The thread state's native id, as below: in a fork child (3.11) the
    # main thread's `native_id` is the parent's thread's, which would read
    # as threading's main thread being another than the registry's.
    if main is not None and main_thread_elsewhere(native_of.get(main.ident, main.native_id)):
        # threading took another thread for the main one: a thread Qt
        # started imported it first (Qt Quick's render thread in a paint()).
        # The registry's main thread is the process's.
        main = None
    try:
        os_threads = _native.os_threads()
    except (OSError, NotImplementedError):
        os_threads = []
    live_native_ids = {native_id for native_id, _name in os_threads}
    os_names = dict(os_threads)
    for thread in threading.enumerate() if threading is not None else ():
        # The thread state's: threading keeps a fork child's thread (the
        # one that forked) at the parent's native id (3.11).
        native_id = native_of.get(thread.ident, thread.native_id)
        if native_id is None:
            continue
        if (isinstance(thread, threading._DummyThread)
                and live_native_ids and native_id not in live_native_ids):
            continue            # a dummy left behind by a thread that has ended
        seen.add(native_id)
        kind = "main" if thread is main else "python"
        name = thread.name
        site, started = start_of(thread)
        if native_id in qthreads:                   # a QThread running Python
            name, started, site = qthreads[native_id]
            kind = "qthread"
        elif native_id in table and table[native_id][2] in (2, 3):
            name, kind = table[native_id][1], _KINDS[table[native_id][2]]
        elif isinstance(thread, threading._DummyThread) or (
                main is None and isinstance(thread, threading._MainThread)):
            # A thread Qt or a library started that called into Python (Qt
            # Quick's render thread painting, its image loader): threading
            # calls it "Dummy-N" from a current_thread() (logging asks for
            # it).  Its own name, as the exception and crash reports give it.
            os_name = os_names.get(native_id) or (table[native_id][1] if native_id in table
                                                   else "")
            if os_name:
                name = os_name
                kind = "pool" if os_name == "Thread (pooled)" else "native"
        if thread is main:
            started = _PROCESS_STARTED
        stack = (_format_stack(frames[thread.ident], where_it_is=thread.ident != asking)
                 if thread.ident in frames else None)
        result.append(ThreadInfo(name, native_id, thread.ident, kind,
                                 daemon=None if kind in ("native", "pool") else thread.daemon,
                                 alive=thread.is_alive(),
                                 started=started, started_at=site, stack=stack))
    for native_id, (ident, name, kind_code) in table.items():
        if native_id in seen:
            continue
        if (live_native_ids and native_id not in live_native_ids) or (
                kind_code in (0, 1) and native_id not in python_idents):
            # Gone: a thread named at install() (or a dummy) ends without
            # pyqtguard's bootstrap to take it out of the table.  A Python
            # thread's state is gone when join() returns; the OS thread may
            # linger a moment.
            continue
        seen.add(native_id)
        record = qthreads.get(native_id)
        started, site = (record[1], record[2]) if record else (None, None)
        if kind_code == 1:
            started = _PROCESS_STARTED
        stack = _format_stack(frames[ident]) if ident in frames else None
        result.append(ThreadInfo(name, native_id, ident, _KINDS.get(kind_code, "python"),
                                 started=started, started_at=site, stack=stack))
    ending = _native.recently_ended_threads()
    for native_id, os_name in os_threads:
        if native_id in seen or native_id in ending:
            continue    # ending: a thread joined a moment ago, its OS thread finishing
        ident = python_idents.get(native_id)
        stack = _format_stack(frames[ident]) if ident in frames else None
        if native_id in qthreads:
            name, started, site = qthreads[native_id]
            result.append(ThreadInfo(name, native_id, ident, "qthread", started=started,
                                     started_at=site, stack=stack))
            continue
        kind = "pool" if os_name == "Thread (pooled)" else "native"
        result.append(ThreadInfo(os_name or "?", native_id, ident, kind, stack=stack))
    if not all:
        result = [t for t in result if t.name not in OWN_THREAD_NAMES]
    return result


def format_table(infos: list[ThreadInfo], *, with_stacks: bool = True) -> str:
    """The thread table as text: one line per thread, then the stacks."""
    now = time.time()
    lines = [f"{'name':<28} {'kind':<8} {'native id':>9}  {'daemon':<6} "
             f"{'age':>8}  started at"]
    for t in infos:
        daemon = "-" if t.daemon is None else ("yes" if t.daemon else "no")
        age = f"{now - t.started:7.1f}s" if t.started else "-"
        lines.append(f"{_printable(t.name)[:28]:<28} {t.kind:<8} {t.native_id or '-':>9}  "
                     f"{daemon:<6} {age:>8}  {t.started_at or '-'}")
    text = "\n".join(lines) + "\n"
    if with_stacks:
        for t in infos:
            if t.stack:
                text += (f"\nStack of {_printable(t.name)!r} (native id {t.native_id}), "
                         f"most recent call last:\n{t.stack}")
    return text


def _printable(name: str) -> str:
    """Names can hold anything: escape control characters, cap the length."""
    name = name[:200]
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def dump_threads(file: IO[str] | None = None) -> str:
    """Write the thread table and every Python thread's stack.

    Args:
        file: a text stream; default: the run log (and stderr when the run
            log is not open).

    Returns the text written.

    Example::

        pyqtguard.dump_threads(sys.stdout)
    """
    from ..logs import stamp

    heading, footer = "\n=== pyqtguard thread dump ===\n", "=== end of thread dump ===\n"
    body = f"time: {stamp()}\n" + format_table(threads(stacks=True))
    text = heading + body + footer
    if file is not None:
        file.write(text)
        return text
    if _native.log_fd() >= 0:
        _native.log_section(heading, body, footer)   # names, stacks: defused
    elif sys.stderr is not None:
        sys.stderr.write(text)
    return text
