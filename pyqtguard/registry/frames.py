"""Which frames of a stack are the app's, and where the app's code made a
call: shared by the reports that show a stack (exceptions, freezes, the exit
deadline, dumps, Qt warnings, the wrong-thread check).

Small and free of the :mod:`traceback` module on purpose: a Qt warning's
origin is formatted in apps that never import it (its import, with
linecache's tokenize and re, costs milliseconds).

    >>> from pyqtguard.registry.frames import format_call_site
    >>> print(format_call_site(sys._getframe()))
"""
from __future__ import annotations

import os
import sys

from . import OWN_FILES, THREAD_STARTER_FILES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType

# pyqtguard's own code: its wrappers (exec(), a thread's start, threading's
# shutdown) and the `pyqtguard run` launcher; reports show the app's frames.
_OWN_FOLDER = OWN_FILES
_LAUNCHER = os.path.join(_OWN_FOLDER, "cli", "run.py")


def app_frames(filenames: list[str], *, where_it_is: bool = True) -> list[int]:
    """Which of a stack's frames (their file names, outermost first) python
    would show without pyqtguard, as indices: what `pyqtguard run` adds
    outside the app's code (``python -m pyqtguard``'s runpy frames, the
    launcher; `run -m`'s runpy frames inside it stay, as ``python -m``
    shows them) and pyqtguard's wrappers around the app's frames are left
    out.  With *where_it_is*, a thread that is in pyqtguard's own code
    right now keeps those innermost frames (one of its threads, a wait
    inside it): that is where the thread is."""
    first = 0
    for index in range(len(filenames) - 1, -1, -1):
        if filenames[index] == _LAUNCHER:
            first = index + 1 if index + 1 < len(filenames) else 0
            break
    last = len(filenames)
    if where_it_is:
        while last > first and filenames[last - 1].startswith(_OWN_FOLDER):
            last -= 1
    return ([index for index in range(first, last)
             if not filenames[index].startswith(_OWN_FOLDER)]
            + list(range(last, len(filenames))))


def format_call_site(frame: FrameType | None, *, limit: int = 8, chars: int = 4000) -> str:
    """Where the app's code made a call, from *frame* (the innermost Python
    frame) outwards, most recent call last as a traceback prints it:
    :func:`app_frames`' frames of the app, without the frames that started
    the thread (threading's, an executor's), the innermost *limit* of them,
    at most *chars* characters; '' when no frame of the app is left.  With
    each frame's source line (:func:`source_line`).  For
    reports made while the app's call is in progress (a Qt warning it set
    off, a widget used off the GUI thread)."""
    while frame is not None and frame.f_code.co_filename.startswith(OWN_FILES):
        frame = frame.f_back
    stack: list[FrameType] = []
    while frame is not None and len(stack) < limit * 4:
        stack.append(frame)
        frame = frame.f_back
    stack.reverse()                                         # outermost first
    kept = [stack[index] for index in app_frames([f.f_code.co_filename for f in stack],
                                                 where_it_is=False)]
    while len(kept) > 1 and kept[0].f_code.co_filename.endswith(THREAD_STARTER_FILES):
        del kept[0]
    lines = []
    for entry in kept[-limit:]:
        code = entry.f_code
        line = entry.f_lineno
        lines.append(f'  File "{code.co_filename}", line {line}, in {code.co_name}\n')
        source = source_line(code.co_filename, line) if line is not None else ""
        if source:
            lines.append(f"    {source}\n")
    text = "".join(lines)
    if len(text) > chars:
        text = text[-chars:].split("\n", 1)[-1]
    return text


_SOURCE_LIMIT = 4 << 20        # bytes of a source file read at most
_LINE_LIMIT = 500              # characters of a source line shown at most


def source_line(filename: str, line: int) -> str:
    """Line *line* of *filename*, stripped: :mod:`linecache`'s when it is
    loaded, else read here - a regular file only (a FIFO or device named as
    a code object's file must not block), at most 4 MiB, as UTF-8 (PEP 263
    declarations are not read: linecache's tokenize costs milliseconds to
    import); '' when there is none."""
    linecache = sys.modules.get("linecache")
    if linecache is not None:
        return str(linecache.getline(filename, line)).strip()[:_LINE_LIMIT]
    import stat

    try:
        fd = os.open(filename, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError, TypeError):
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        data = os.read(fd, _SOURCE_LIMIT)
    except OSError:
        return ""
    finally:
        os.close(fd)
    lines = data.split(b"\n", line)
    if line < 1 or len(lines) < line:
        return ""
    return lines[line - 1].decode("utf-8", "replace").strip()[:_LINE_LIMIT]
