"""Reading a report's text back into parts: exceptions, threads, versions,
log lines.  The text may have been edited by the user (that is the point:
what is sent is what they saw), so every part is optional and nothing here
raises on odd input.

Example::

    >>> parse_versions("Versions:\\n  python: 3.12.1\\n")
    {'python': '3.12.1'}
"""
from __future__ import annotations

import re

_TRACEBACK = "Traceback (most recent call last):"
_TB_FRAME = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d{1,9}), in (?P<func>.*)$')
_STACK_FRAME = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d{1,9}),? in (?P<func>.*)$')
_THREAD = re.compile(r"^(?P<lead>Current thread|Thread) '(?P<name>.*)'(?P<rest>[^']*):$")
_NATIVE_ID = re.compile(r"native id (\d{1,20})")
_EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<value>.*))?$")
_VERSION_LINE = re.compile(r"^\s+(?P<key>[\w.-]{1,32}): (?P<value>.{0,200})$")
_MAX_ITEMS = 200


def _frame(match: re.Match[str], source: str | None = None) -> dict[str, object]:
    frame: dict[str, object] = {"filename": match["file"], "function": match["func"],
                                "lineno": int(match["line"])}
    if source:
        frame["context_line"] = source
    return frame


def parse_exceptions(text: str) -> list[dict[str, object]]:
    """Each ``Traceback (most recent call last):`` block, oldest first (as
    chained exceptions print): ``{"type", "value", "frames"}`` with frames
    oldest first."""
    lines = text.split("\n")
    found = []
    index = 0
    while index < len(lines) and len(found) < _MAX_ITEMS:
        if lines[index].strip() != _TRACEBACK:
            index += 1
            continue
        frames: list[dict[str, object]] = []
        index += 1
        while index < len(lines) and lines[index][:1] in (" ", "\t"):
            match = _TB_FRAME.match(lines[index])
            if match and len(frames) < _MAX_ITEMS:
                following = lines[index + 1] if index + 1 < len(lines) else ""
                has_source = following.startswith("    ") and not _TB_FRAME.match(following)
                frames.append(_frame(match, following.strip() if has_source else None))
            index += 1
        exc = _EXCEPTION_LINE.match(lines[index]) if index < len(lines) else None
        found.append({"type": exc["type"] if exc else "Error",
                      "value": (exc["value"] or "") if exc else "", "frames": frames})
    return found


def parse_threads(text: str) -> list[dict[str, object]]:
    """Each ``Thread 'name' ...:`` / ``Current thread 'name' ...:`` block:
    ``{"name", "native_id", "crashed", "current", "frames"}``, frames oldest
    first (the blocks are written most recent call first)."""
    lines = text.split("\n")
    found = []
    index = 0
    while index < len(lines) and len(found) < _MAX_ITEMS:
        match = _THREAD.match(lines[index])
        index += 1
        if not match:
            continue
        rest = match["rest"]
        native = _NATIVE_ID.search(rest)
        frames = []
        while index < len(lines) and lines[index].strip():
            frame = _STACK_FRAME.match(lines[index])
            if frame and len(frames) < _MAX_ITEMS:
                frames.append(_frame(frame))
            index += 1
        crashed = match["lead"] == "Current thread" or "crashed" in rest
        found.append({"name": match["name"], "native_id": int(native[1]) if native else None,
                      "crashed": crashed,
                      "current": "current" in rest or match["lead"] == "Current thread",
                      "frames": frames[::-1]})
    return found


def parse_versions(text: str) -> dict[str, str]:
    """The ``key: value`` lines under the first ``Versions`` heading."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("Versions") and line.endswith(":"):
            found = {}
            for following in lines[index + 1:]:
                match = _VERSION_LINE.match(following)
                if not match:
                    break
                found[match["key"]] = match["value"].strip()
            return found
    return {}


def parse_log_lines(text: str, heading: str) -> list[str]:
    """The indented lines under *heading*."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line == heading:
            found = []
            for following in lines[index + 1:]:
                if not following.startswith("  ") or len(found) >= _MAX_ITEMS:
                    break
                found.append(following[2:])
            return found
    return []
