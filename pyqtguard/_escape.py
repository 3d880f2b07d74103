"""Text from outside (file names, parser messages, run logs) made printable,
for ``pyqtguard check`` and the other commands (:mod:`pyqtguard.cli._output`).

A file may be named ``"x\\nforged.py:1:1: PQG001 ..."``: printed as it is, the
name would forge a finding line.  Characters that are not printable (line
breaks of every kind, control and format characters, lone surrogates from
names that are not UTF-8) are written as Python escapes.

    >>> printable("x\\nforged.py")
    'x\\\\nforged.py'
    >>> printable("caf\\udce9.py")
    'caf\\\\udce9.py'
"""
from __future__ import annotations

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """*text* with every non-printable character written as an escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
