"""Reading run logs that may not be what their names say.

Anyone who can write to a log folder can put anything there under a run
log's name: a FIFO (an ``open()`` that never returns), a symlink to
``/dev/zero`` (a ``read()`` that never ends), an 8 GB sparse file.  The
readers here open only regular files, without blocking, and read at most a
bounded tail, so a listing of crash reports answers in milliseconds and a few
MB of memory whatever the folder holds.  Example::

    try:
        data = read_tail(path)           # at most MAX_TAIL_BYTES
    except OSError as exc:               # NotARegularFile for a FIFO...
        notes.append(f"skipped {path}: {exc}")

Errors are :class:`OSError` with a reason fit for a note
(``"not a regular file (FIFO)"``); the caller skips that file.
"""
from __future__ import annotations

import os
import stat

# A crash report is a few KB to a few hundred KB (200 threads' stacks); the
# report of a crashed run is at the end of its log.
MAX_TAIL_BYTES = 4 * 1024 * 1024

_KINDS = ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"),
          (stat.S_ISDIR, "directory"))


class NotARegularFile(OSError):
    """A path named like a run log that is a FIFO, device, socket or folder."""


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "special file")


def _check_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise NotARegularFile(f"not a regular file ({_kind(mode)})")


def open_regular(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor on *path* if it is a regular file.

    Never blocks on a FIFO and never opens a device: the target is checked
    with ``stat()`` before the open, and the open descriptor with ``fstat()``
    again (the file may have been swapped in between; ``O_NONBLOCK`` for a
    FIFO swapped in meanwhile).  Raises OSError, :class:`NotARegularFile`
    for anything that is not a regular file.
    """
    _check_regular(os.stat(path).st_mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        _check_regular(os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_tail(path: str | os.PathLike[str], limit: int = MAX_TAIL_BYTES) -> bytes:
    """The last *limit* bytes of the regular file *path* (all of a smaller
    one), opened with :func:`open_regular`."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    fd = open_regular(path)
    try:
        start = max(0, os.fstat(fd).st_size - limit)
        chunks = []
        left = limit
        while left > 0:                       # the file may grow while we read
            chunk = _read_at(fd, min(left, 1 << 20), start)
            if not chunk:
                break
            chunks.append(chunk)
            start += len(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


WORKER_LINE = b"\nworker of: pid "      # a spawn/forkserver worker's header (folder.py)


def is_worker_log(path: str | os.PathLike[str]) -> bool:
    """Whether the run log at *path* is a multiprocessing worker's (its
    header says ``worker of: pid N``): not a run of the app.  False for a
    file that cannot be read."""
    try:
        fd = open_regular(path)
    except OSError:
        return False
    try:
        head = _read_at(fd, 512, 0)
    except OSError:
        return False
    finally:
        os.close(fd)
    return WORKER_LINE in head.split(b"\n\n", 1)[0]


def _read_at(fd: int, size: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)        # Windows: no pread
    return os.read(fd, size)
