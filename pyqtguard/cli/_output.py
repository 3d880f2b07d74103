"""What the commands print: text read from run logs made safe for a
terminal, and a reader that went away (``pyqtguard logs | head -1``).

A log's text is the app's text: an exception message or a file name can
carry terminal escape sequences (a title change, a cleared screen, a fake
prompt) or, in a folder whose name is not UTF-8, lone surrogates that a
strict UTF-8 stdout refuses.  :func:`printable_text` writes every character
that is not printable as a Python escape, keeping the line breaks and tabs
of a multi-line report; :func:`printable` keeps nothing (one line).

    >>> printable_text("a\\x1b[2J\\tb\\nc\\udce9")
    'a\\\\x1b[2J\\tb\\nc\\\\udce9'
"""
from __future__ import annotations

import os
import sys

from .._escape import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["escape_what_stdout_cannot_encode", "folder", "printable", "printable_text",
           "unless_reader_gone", "READER_GONE", "WRITE_FAILED"]

READER_GONE = 141       # 128 + SIGPIPE: what a shell shows for `ls | head -1`
WRITE_FAILED = 74       # EX_IOERR (sysexits.h): stdout refused the output (a full disk)


def folder(text: str) -> str:
    """argparse's type for ``--log-dir`` and ``--app``: an empty one is an
    error (it meant "the default" to logs and report, "every app" for
    ``--app``, and "" to run's install())."""
    import argparse

    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def printable_text(text: str) -> str:
    """*text* with its lines and tabs kept and every other non-printable
    character (controls, escapes, C1, format characters, surrogates) escaped."""
    return "\n".join("\t".join(printable(part) for part in line.split("\t"))
                     for line in text.split("\n"))


def escape_what_stdout_cannot_encode() -> None:
    """An app name or path in a script the terminal cannot show (an ASCII
    locale, a Windows console's code page) is written as a Python escape
    rather than failing with UnicodeEncodeError."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass


def unless_reader_gone(command: Callable[[], int]) -> int:
    """``command()``, its output flushed; when the reader of stdout is gone
    (``pyqtguard logs | head -1``): nothing more said, status
    :data:`READER_GONE`, as a command killed by SIGPIPE ends (Python
    ignores SIGPIPE, so a write raises instead).  stdout then goes to the
    null device, so that the interpreter's own flush at exit has nowhere
    to fail.  Any other failed write to stdout (a full disk): one line on
    stderr, status :data:`WRITE_FAILED`.  ``SystemExit`` (argparse's
    ``--help`` and errors) passes."""
    try:
        try:
            return command()
        finally:
            if sys.stdout is not None:
                sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
        return READER_GONE
    except OSError as exc:
        if exc.filename is not None:
            raise                   # a file of ours, not stdout: a bug to see
        # stdout on a full disk or a device that refuses writes
        # (`pyqtguard logs > /dev/full`): one line, as other commands say
        # it, not a traceback here and another at the interpreter's flush.
        _stdout_to_devnull()
        if sys.stderr is not None:
            try:
                sys.stderr.write(f"pyqtguard: cannot write its output: {exc}\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
        return WRITE_FAILED


def _stdout_to_devnull() -> None:
    """What is left in stdout's buffer goes nowhere at exit, quietly."""
    if sys.stdout is not None:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            return
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        finally:
            os.close(devnull)
