"""Whether the process is still working: looked at when the exit deadline
passes, so that an app saving or computing after ``exec()`` returns is not
ended in the middle of it (its file cut short) the way a hung one is.

Work is what a hang does not do: use the CPU (at least
:data:`MIN_CPU_SHARE` of one core, all threads together; on Linux, or one
thread running or waiting for a CPU :data:`MIN_BUSY_THREAD_SHARE` of the
time: a busy thread on a loaded machine gets little CPU) or write (bytes
handed to ``write()``, Linux's ``/proc/self/io`` ``wchar``; elsewhere the
blocks written, ``getrusage``), over :data:`WINDOW` seconds.  A thread
waiting for a join, a lock, a socket or an event, or polling a flag in a
sleep loop, does neither.  Loaded only when a deadline passes::

    from pyqtguard.watchdog import progress
    seen = progress.work_seen()     # "CPU 97% of a core" or None (0.5 s later)
"""
from __future__ import annotations

import os
import sys
import time

from .dumptarget import read_bounded

WINDOW = 0.5                  # seconds looked at
MIN_CPU_SHARE = 0.10          # of one core: a sleep loop's wake-ups stay far below
_PROC_READ_LIMIT = 4096       # /proc/self/io and a schedstat: a few hundred bytes
_MAX_TASKS = 1024             # threads read at most
_MAX_CHILDREN = 16            # child processes read at most
try:
    _CLOCK_TICKS = os.sysconf("SC_CLK_TCK") or 100   # /proc's time unit
except (AttributeError, ValueError, OSError):        # Windows: no /proc either
    _CLOCK_TICKS = 100
# /proc is Linux's: elsewhere "/proc/self/io" names a file on the current
# drive (Windows), and under Wine the Linux process hosting Wine (its writes
# to the wineserver read as the app's work, which extended a hung app's exit
# deadline five times).
_PROC = sys.platform.startswith("linux")
_SCAN_LIMIT = 0.15            # seconds one reading of them takes at most
MIN_BUSY_THREAD_SHARE = 0.5   # of the window, one thread running or ready to run


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _on_cpu_or_waiting(schedstat: str) -> int | None:
    """Nanoseconds a thread spent on a CPU and waiting for one, from its
    ``schedstat`` file; None if it is gone or the file does not parse."""
    data = read_bounded(schedstat, _PROC_READ_LIMIT, regular=False)
    fields = data.split() if data is not None else []
    if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
        return int(fields[0]) + int(fields[1])
    return None


def _scheduled(until: float, only: dict[str, tuple[int, float]] | None = None
               ) -> dict[str, tuple[int, float]]:
    """Each thread's nanoseconds on a CPU and waiting for one (Linux's
    ``/proc/self/task/*/schedstat``), with when it was read; empty
    elsewhere.  Read until *until* (``time.monotonic()``) at most: each
    read lets a computing thread take the GIL back for a switch interval,
    and the watchdog waits 1.5 s for the whole answer.  *only*: the threads
    of the first reading (the main thread is the first listed)."""
    if not _PROC:
        return {}
    try:
        tasks = list(only) if only is not None else os.listdir("/proc/self/task")[:_MAX_TASKS]
    except OSError:
        return {}
    scheduled = {}
    for task in tasks:
        on_cpu = _on_cpu_or_waiting(f"/proc/self/task/{task}/schedstat")
        read_at = time.monotonic()
        if on_cpu is not None:                              # None: the thread ended
            scheduled[task] = (on_cpu, read_at)
        if read_at >= until:
            break
    return scheduled


def _busiest_share(before: dict[str, tuple[int, float]],
                   after: dict[str, tuple[int, float]]) -> float:
    """The largest share of the time between its two readings one thread
    spent running or ready to run: a busy thread on a loaded machine gets
    little CPU, but waits for it the rest of the time; a thread polling in
    a sleep loop sleeps."""
    shares = ((after[task][0] - before[task][0]) / 1e9
              / max(after[task][1] - before[task][1], 1e-3)
              for task in after if task in before)
    return max(shares, default=0)


def _child_pids(until: float) -> dict[int, int]:
    """This process's child processes and theirs (Linux: each thread's
    ``children`` list, the main thread's first), each with its parent's
    pid: a shell running a tool waits idle while the tool works.  Breadth
    first, :data:`_MAX_CHILDREN` at most, read until *until* at most (each
    read lets a computing thread take the GIL back: see
    :func:`_scheduled`); empty elsewhere."""
    parents: dict[int, int] = {}
    queue = [os.getpid()]
    for parent in queue:
        for child in _children_of(parent, until):
            if child not in parents and child != os.getpid():
                parents[child] = parent
                queue.append(child)
            if len(parents) >= _MAX_CHILDREN:
                return parents
        if time.monotonic() >= until:
            break
    return parents


def _children_of(pid: int, until: float) -> list[int]:
    """The pids in each of *pid*'s threads' ``children`` lists."""
    if not _PROC:
        return []
    task_dir = "/proc/self/task" if pid == os.getpid() else f"/proc/{pid}/task"
    try:
        tasks = os.listdir(task_dir)[:_MAX_TASKS]
    except OSError:
        return []
    children: list[int] = []
    for task in tasks:
        data = read_bounded(f"{task_dir}/{task}/children", _PROC_READ_LIMIT, regular=False)
        children.extend(int(pid) for pid in (data or b"").split()[:_MAX_CHILDREN]
                        if pid.isdigit())
        if len(children) >= _MAX_CHILDREN or time.monotonic() >= until:
            break
    return children


def _children_work(parents: dict[int, int]) -> tuple[float, dict[str, tuple[int, float]]]:
    """The child processes (pid -> its parent's pid, those still there):
    CPU seconds so far of all their threads, and each one's main thread's
    nanoseconds running or waiting for a CPU, with when it was read (a busy
    child on a loaded machine gets little CPU, but waits for it the rest of
    the time).  An app saving through a tool (zip, ffmpeg) waits idle while
    its child works."""
    ticks = 0
    scheduled = {}
    for pid, parent_pid in parents.items():
        parent = str(parent_pid).encode()
        stat = read_bounded(f"/proc/{pid}/stat", _PROC_READ_LIMIT, regular=False)
        # After the command's ")" (it may hold anything): state is field 3,
        # the parent's pid field 4 (a pid reused since the listing by a
        # process that is not our child is not looked at), utime and stime
        # fields 14 and 15 (clock ticks).
        fields = stat.rpartition(b")")[2].split() if stat else []
        if len(fields) < 13 or fields[1] != parent:
            continue
        if fields[11].isdigit() and fields[12].isdigit():
            ticks += int(fields[11]) + int(fields[12])
        on_cpu = _on_cpu_or_waiting(f"/proc/{pid}/schedstat")
        if on_cpu is not None:
            scheduled[str(pid)] = (on_cpu, time.monotonic())
    return ticks / _CLOCK_TICKS, scheduled


def _written() -> tuple[int, str] | None:
    """What was written so far and its unit: bytes (Linux), else blocks
    (other POSIX); None where neither can be read (Windows)."""
    data = read_bounded("/proc/self/io", _PROC_READ_LIMIT, regular=False) if _PROC else None
    if data is None:
        return _blocks_written()
    for line in data.split(b"\n"):
        key, _, value = line.partition(b":")
        if key == b"wchar" and value.strip().isdigit():
            return int(value), "bytes"
    return _blocks_written()


def _blocks_written() -> tuple[int, str] | None:
    try:
        import resource
    except ImportError:                 # Windows: the CPU alone
        return None
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_oublock), "blocks"


def work_seen(window: float = WINDOW) -> str | None:
    """What the process did over the next *window* seconds that a hung one
    does not ("CPU 97% of a core", "2.1 MB written"), or None."""
    scheduled = _scheduled(time.monotonic() + _SCAN_LIMIT)   # its own CPU left out
    children = _child_pids(time.monotonic() + _SCAN_LIMIT)
    children_cpu, children_scheduled = _children_work(children)
    cpu, written, started = _cpu_seconds(), _written(), time.monotonic()
    time.sleep(window)
    elapsed = max(time.monotonic() - started, 1e-3)
    cpu_share = (_cpu_seconds() - cpu) / elapsed
    now_written = _written()
    children_cpu_after, children_scheduled_after = _children_work(children)
    children_share = (children_cpu_after - children_cpu) / elapsed
    busiest_child = _busiest_share(children_scheduled, children_scheduled_after)
    busiest = _busiest_share(scheduled, _scheduled(time.monotonic() + _SCAN_LIMIT, scheduled))
    seen = []
    if cpu_share >= MIN_CPU_SHARE:
        seen.append(f"CPU {cpu_share:.0%} of a core")
    elif busiest >= MIN_BUSY_THREAD_SHARE:
        seen.append(f"a thread running or ready to run {min(busiest, 1):.0%} of the time")
    if children_share >= MIN_CPU_SHARE:
        seen.append(f"its child processes CPU {children_share:.0%} of a core")
    elif busiest_child >= MIN_BUSY_THREAD_SHARE:
        seen.append(f"a child process running or ready to run {min(busiest_child, 1):.0%} "
                    "of the time")
    if written is not None and now_written is not None and now_written[0] > written[0]:
        count, unit = now_written[0] - written[0], now_written[1]
        seen.append(f"{_size(count) if unit == 'bytes' else f'{count} blocks'} written")
    return ", ".join(seen) or None


def _size(count: int) -> str:
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MB"
    if count >= 1 << 10:
        return f"{count / (1 << 10):.0f} KB"
    return f"{count} bytes"
