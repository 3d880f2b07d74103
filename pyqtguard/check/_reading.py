"""Reading a source file as Python would, without trusting the file.

Only a regular file under a size cap is read: a FIFO named ``app.py`` would
block ``open()`` forever, a symlink to ``/dev/zero`` never ends, and a huge
file costs memory out of proportion.  The bytes are decoded the way the
import system does (``importlib.util.decode_source``): a UTF-8 byte-order
mark and a PEP 263 coding cookie are honoured, and newlines are universal.

    >>> text = read_source("app.py", max_bytes=DEFAULT_MAX_BYTES)
    >>> read_source("/dev/zero", max_bytes=DEFAULT_MAX_BYTES)
    Traceback (most recent call last):
    ...
    pyqtguard.check._reading.Unreadable: not a regular file (character device), skipped
"""
from __future__ import annotations

import io
import os
import stat
import tokenize

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
"""A few MB: hand-written modules are far smaller; a generated one (Qt
resources) over the cap is skipped with a note, ``--max-size`` raises it."""

_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
_CHUNK = 1 << 20


class Unreadable(Exception):
    """The file is not analysed; ``str()`` is the reason, for a note."""


def read_source(path: str, max_bytes: int) -> str:
    """The text of *path* as Python would compile it; :class:`Unreadable` if not."""
    return decode_source(read_bytes(path, max_bytes))


def read_bytes(path: str, max_bytes: int) -> bytes:
    """At most *max_bytes* bytes of a regular file; :class:`Unreadable` otherwise.

    The kind is checked before opening (a device is not even opened) and
    again on the open descriptor (the path may have changed in between);
    ``O_NONBLOCK`` makes opening a FIFO return at once.
    """
    try:
        _require_regular(os.stat(path), max_bytes)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from None
    try:
        _require_regular(os.fstat(fd), max_bytes)
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:              # the file may grow while it is read
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise Unreadable(_over_cap(size, max_bytes, grew=True))
    return b"".join(chunks)


def _require_regular(info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise Unreadable(f"not a regular file ({_kind(info.st_mode)}), skipped")
    if info.st_size > max_bytes:
        raise Unreadable(_over_cap(info.st_size, max_bytes))


def _over_cap(size: int, max_bytes: int, grew: bool = False) -> str:
    what = f"more than {max_bytes} bytes (it grew while read)" if grew else f"{size} bytes"
    return f"{what}, over the size cap ({max_bytes} bytes; --max-size), skipped"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISDIR, "directory")):
        if test(mode):
            return name
    return "special file"


def decode_source(data: bytes) -> str:
    """*data* decoded as the import system does; :class:`Unreadable` if it cannot be.

    >>> decode_source(b"# -*- coding: latin-1 -*-\\ns = 'caf\\xe9'\\r\\n")
    "# -*- coding: latin-1 -*-\\ns = 'café'\\n"
    """
    if b"\0" in data:
        raise Unreadable("binary file, skipped")
    try:
        encoding, _lines = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        message = str(exc.msg) if exc.msg else "bad encoding declaration"
        if message.startswith("invalid or missing encoding declaration"):
            raise Unreadable("not UTF-8, skipped (and no coding cookie names its encoding)") \
                from None
        raise Unreadable(f"{message}, skipped") from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        raise Unreadable(f"not {name}, skipped (byte {data[exc.start]:#04x} at offset "
                         f"{exc.start})") from None
    return io.IncrementalNewlineDecoder(None, translate=True).decode(text, final=True)
