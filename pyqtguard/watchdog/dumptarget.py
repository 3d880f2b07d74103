"""Who may be sent a dump signal: the runtime file an app with its dump
signal armed keeps next to its run log, and the checks ``pyqtguard dump``
makes before it signals anything.

The dump signal is SIGUSR1 by default, whose default action ends a process.
So ``pyqtguard dump PID`` signals only a process that proves, now, that it
is a pyqtguard app waiting for that signal (Linux, where ``/proc`` tells):

1. its runtime file exists - ``pyqtguard-<stamp>-<pid>-<seq>.dump``, written
   by :func:`pyqtguard.install` when the dump signal is armed and removed by
   :func:`pyqtguard.uninstall` - is a regular file, small, owned by the
   target's user and writable by nobody else, and names the signal;
2. the process's start time (field 22 of ``/proc/PID/stat``) is the one
   the file recorded: not another process that got the PID later;
3. the process catches that signal right now (``SigCgt`` in
   ``/proc/PID/status``) and has pyqtguard's C core mapped
   (``/proc/PID/maps``).

The signal goes through a pidfd opened before the checks, so the process
checked is the process signalled.  Every file is read with a size limit and
without following symlinks or blocking on a FIFO: they are input anyone
sharing the folder could forge.  Where ``/proc`` is missing (macOS, Windows)
nothing can be proven, and ``pyqtguard dump`` refuses.

Example::

    target = find_target(4242, ["/home/me/.local/state/pyqtguard/editor"])
    problem = verify(target)          # None: safe to send target.signum
"""
from __future__ import annotations

import os
import stat
import sys

from .dump import MAGIC, SUFFIX

MAX_RUNTIME_FILE = 4096
MAX_PROC_FILE = 64 * 1024
MAX_MAPS = 64 * 1024 * 1024

# ---- bounded reads ------------------------------------------------------------

def read_bounded(path: str, limit: int, *, regular: bool = True) -> bytes | None:
    """At most *limit* bytes of *path*; None if it cannot be read, is not a
    regular file (when *regular*), is a symlink or is larger than *limit*.
    Never blocks on a FIFO (``O_NONBLOCK``)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if regular:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        if regular and not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return None if size > limit else b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def start_time_of(pid: int | str) -> str | None:
    """Field 22 of ``/proc/PID/stat``: when the process started, in clock
    ticks after boot - with the PID, a name no later process can have."""
    data = read_bounded(f"/proc/{pid}/stat", MAX_PROC_FILE, regular=False)
    if data is None:
        return None
    # The command name (field 2) is in parentheses and may hold anything,
    # parentheses and spaces included: the fields after the last ')' count.
    rest = data[data.rfind(b")") + 1:].split()
    if len(rest) < 20 or not rest[19].isdigit():
        return None
    return rest[19].decode("ascii")


def _status_fields(pid: int) -> dict[str, str] | None:
    data = read_bounded(f"/proc/{pid}/status", MAX_PROC_FILE, regular=False)
    if data is None:
        return None
    fields = {}
    for line in data.decode("ascii", "replace").splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def catches(pid: int, signum: int) -> bool | None:
    """Whether *pid* has a handler for *signum* now (``SigCgt``); None: unknown."""
    fields = _status_fields(pid)
    if fields is None or "SigCgt" not in fields:
        return None
    try:
        mask = int(fields["SigCgt"], 16)
    except ValueError:
        return None
    return bool(mask >> (signum - 1) & 1)


def real_uid(pid: int) -> int | None:
    fields = _status_fields(pid)
    try:
        return int(fields["Uid"].split()[0]) if fields else None
    except (KeyError, ValueError, IndexError):
        return None


def maps_pyqtguard(pid: int) -> bool | None:
    """Whether pyqtguard's C core is mapped in *pid*; None: cannot tell."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(f"/proc/{pid}/maps", flags)
    except OSError:
        return None
    try:
        tail, total = b"", 0
        while total < MAX_MAPS:
            chunk = os.read(fd, 65536)
            if not chunk:
                return False
            total += len(chunk)
            text = tail + chunk
            if b"/pyqtguard/_native" in text:
                return True
            tail = text[-64:]
        return None
    except OSError:
        return None
    finally:
        os.close(fd)


# ---- the dump command's side --------------------------------------------------

class Target:
    """A runtime file found for a PID, as parsed (not yet trusted)."""

    __slots__ = ("path", "pid", "start", "signum", "uid")

    def __init__(self, path: str, pid: int, start: str, signum: int, uid: int) -> None:
        self.path, self.pid, self.start, self.signum, self.uid = path, pid, start, signum, uid

    @property
    def run_log(self) -> str:
        return self.path[: -len(SUFFIX)] + ".log"


def _is_runtime_name(name: str, pid: int) -> bool:
    if not (name.startswith("pyqtguard-") and name.endswith(SUFFIX)):
        return False
    parts = name[len("pyqtguard-"):-len(SUFFIX)].split("-")
    return len(parts) == 4 and parts[2] == str(pid) and all(
        p.isascii() and p.isdigit() for p in parts)


def _parse(path: str, pid: int) -> Target | str:
    """A Target, or why the file at *path* is not to be believed."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is writable by other users"
    data = read_bounded(path, MAX_RUNTIME_FILE)
    if data is None:
        return f"{path} cannot be read or is too large"
    try:
        lines = data.decode("ascii").split("\n")
    except UnicodeDecodeError:
        return f"{path} is not a pyqtguard runtime file"
    if len(lines) != 5 or lines[0] != MAGIC or lines[4] != "":
        return f"{path} is not a pyqtguard runtime file"
    values = {}
    for line, key in zip(lines[1:4], ("pid", "start", "signal")):
        name, sep, value = line.partition(": ")
        if name != key or not sep or not value.isascii() or not value.isdigit():
            return f"{path} is not a pyqtguard runtime file"
        values[key] = value
    if int(values["pid"]) != pid:
        return f"{path} names another process"
    return Target(path, pid, values["start"], int(values["signal"]), info.st_uid)


def find_target(pid: int, folders: list[str]) -> Target | str:
    """The newest runtime file for *pid* in *folders*, or why there is none."""
    names = []
    for folder in folders:
        try:
            names += [(name, folder) for name in os.listdir(folder)
                      if _is_runtime_name(name, pid)]
        except OSError:
            continue
    if not names:
        return ("no runtime file of an armed pyqtguard dump handler for it in "
                + (", ".join(folders) or "the log folders"))
    name, folder = max(names)          # names sort by start time
    return _parse(os.path.join(folder, name), pid)


def has_proc() -> bool:
    """Whether this system has Linux's /proc to prove a process by.  Linux
    only: elsewhere "/proc/..." is an ordinary path (on Windows, of the
    current drive: any user may create C:\\proc\\self and forge what the
    checks read there; under Wine it is the Linux host's /proc, whose
    processes are not Windows pids)."""
    return sys.platform.startswith("linux") and os.path.isdir("/proc/self")


def verify(target: Target) -> str | None:
    """None if *target* is, now, the process that wrote its runtime file
    and catches its dump signal with pyqtguard loaded; else why not."""
    if not has_proc():
        return ("this system has no /proc: pyqtguard cannot prove the process is "
                "a pyqtguard app waiting for the signal (dump works on Linux)")
    pid = target.pid
    start = start_time_of(pid)
    if start is None:
        return "no such process"
    if start != target.start:
        return (f"it is not the process that wrote {target.path} (it started at "
                f"another time: the PID was reused)")
    uid = real_uid(pid)
    if uid is None or uid != target.uid:
        return f"{target.path} is not owned by the process's user"
    caught = catches(pid, target.signum)
    if caught is None:
        return "its signal dispositions cannot be read"
    if not caught:
        return f"it does not catch signal {target.signum} now (its dump handler is not armed)"
    mapped = maps_pyqtguard(pid)
    if mapped is None:
        return "its memory map cannot be read to check that pyqtguard is loaded"
    if not mapped:
        return "pyqtguard is not loaded in it"
    return None
