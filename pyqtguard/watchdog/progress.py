"""Whether the process is still working: looked at when the exit deadline
passes, so that an app saving or computing after ``exec()`` returns is not
ended in the middle of it (its file cut short) the way a hung one is.

Work is what a hang does not do: use the CPU (at least
:data:`MIN_CPU_SHARE` of one core, all threads together) or write (bytes
handed to ``write()``, Linux's ``/proc/self/io`` ``wchar``; elsewhere the
blocks written, ``getrusage``), over :data:`WINDOW` seconds.  A thread
waiting for a join, a lock, a socket or an event, or polling a flag in a
sleep loop, does neither.  Loaded only when a deadline passes::

    from pyqtguard.watchdog import progress
    seen = progress.work_seen()     # "CPU 97% of a core" or None (0.5 s later)
"""
from __future__ import annotations

import os
import time

WINDOW = 0.5                  # seconds looked at
MIN_CPU_SHARE = 0.10          # of one core: a sleep loop's wake-ups stay far below;
                              # a busy thread on a loaded machine gets more
_IO_READ_LIMIT = 4096         # /proc/self/io is a few hundred bytes


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _written() -> tuple[int, str] | None:
    """What was written so far and its unit: bytes (Linux), else blocks
    (other POSIX); None where neither can be read (Windows)."""
    try:
        fd = os.open("/proc/self/io", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return _blocks_written()
    try:
        data = os.read(fd, _IO_READ_LIMIT)
    except OSError:
        return _blocks_written()
    finally:
        os.close(fd)
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
    cpu, written = _cpu_seconds(), _written()
    started = time.monotonic()
    time.sleep(window)
    elapsed = max(time.monotonic() - started, 1e-3)
    cpu_share = (_cpu_seconds() - cpu) / elapsed
    now_written = _written()
    seen = []
    if cpu_share >= MIN_CPU_SHARE:
        seen.append(f"CPU {cpu_share:.0%} of a core")
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
