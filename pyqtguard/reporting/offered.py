"""Which earlier crashes were already offered to the user (or sent): each is
offered once.

``<log folder>/crashes-offered.txt``: one crash key (``crash:<run log
name>``) a line, the newest :data:`MAX_LINES` kept.  It lives in the app's
log folder, so it is read as input: a regular file only, never blocking, at
most :data:`MAX_BYTES`; replaced whole (a new 0600 file, then ``rename``),
never written through a symlink.  When the state cannot be read (a FIFO
planted under its name, an unsafe folder), nothing is offered: better to miss
one offer than to offer the same crash at every start.

Example::

    if not was_offered(folder, report.key):
        mark_offered(folder, report.key)
        show(report)
"""
from __future__ import annotations

import os
import re

from ..logs import folder as logdir
from ..logs import read as logread

FILE_NAME = "crashes-offered.txt"
MAX_LINES = 200
MAX_BYTES = 64 * 1024
_KEY = re.compile(r"^crash:[\w.-]{1,200}$")


class StateUnreadable(OSError):
    """The offered-crashes file exists but cannot be trusted or read."""


def _path(log_folder: str | os.PathLike[str]) -> str:
    return os.path.join(os.fspath(log_folder), FILE_NAME)


def offered_keys(log_folder: str | os.PathLike[str]) -> list[str]:
    """The keys recorded, oldest first; StateUnreadable if the file is there
    but is not a regular file of ours or the folder is unsafe."""
    folder = os.fspath(log_folder)
    try:
        logdir.check_folder(os.stat(folder), folder)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StateUnreadable(str(exc)) from None
    path = _path(folder)
    if os.path.islink(path):
        raise StateUnreadable(f"{path} is a symlink")
    try:
        data = logread.read_tail(path, MAX_BYTES)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StateUnreadable(f"{path}: {exc}") from None
    lines = data.decode("utf-8", "replace").split("\n")
    return [line for line in lines if _KEY.match(line)][-MAX_LINES:]


def was_offered(log_folder: str | os.PathLike[str], key: str) -> bool:
    """True if *key* was offered before - or if that cannot be known."""
    try:
        return key in offered_keys(log_folder)
    except StateUnreadable:
        return True


def mark_offered(log_folder: str | os.PathLike[str], key: str) -> bool:
    """Record *key*; False if it could not be recorded."""
    if not _KEY.match(key):
        raise ValueError(f"not a crash key: {key!r}")
    folder = os.fspath(log_folder)
    try:
        keys = offered_keys(folder)
    except StateUnreadable:
        return False
    if key in keys:
        return True
    keys = (keys + [key])[-MAX_LINES:]
    temporary = os.path.join(folder, f".{FILE_NAME}.{os.getpid()}.tmp")
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    try:
        try:
            os.unlink(temporary)          # left by a process that died here
        except FileNotFoundError:
            pass
        fd = os.open(temporary, flags, 0o600)
        try:
            os.write(fd, ("\n".join(keys) + "\n").encode("utf-8"))
        finally:
            os.close(fd)
        os.replace(temporary, _path(folder))
    except OSError:
        return False
    return True
