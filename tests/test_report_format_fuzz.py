"""Differential fuzzing of report texts against ``traceback`` (issue 21).

``delivery._format`` takes three shortcuts that ``traceback`` does not (a
report without chain or group composed from its parts, a table of formatted
frames, and no caret parse for whole-line raise/return/assert/del/import/from
statements); each must give exactly ``traceback.format_exception``'s text.
Here hypothesis writes real source files (so that linecache reads them, as
it does an app's) full of odd spacing, encodings, line ends and characters
that ``str.splitlines`` treats as line breaks, raises from them in many ways,
changes or deletes them afterwards, and compares the two texts of the same
exception object, twice (the second from the table).

Deterministic (``derandomize=True``) and bounded; ``PYQTGUARD_FUZZ_EXAMPLES``
raises the count for a longer hunt, e.g. 5000.
"""
from __future__ import annotations

import itertools
import os
import sys
import traceback

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pyqtguard.exceptions import delivery

EXAMPLES = int(os.environ.get("PYQTGUARD_FUZZ_EXAMPLES", "150"))

# Pieces of string literals: multi-byte and wide characters before and after
# the offsets, and characters that are line breaks to str.splitlines (but
# not to Python's tokenizer or linecache) inside a literal.
_TEXT_PIECES = ["abc", "ünïcödé", "日本語", "✓", "😀", "é", "\u2028", "\x0c", "\x85",
                "\x1c", "\t", "x" * 150, " ", "\\n", "\u3000"]
_SEPARATORS = [" ", "\t", "\x0c", "  ", " \\\n        ", "\t \x0c "]
_NAMES = ["x", "ünï", "日本", "returned", "raised_value", "delete"]

# The failing statements: {s} a separator between tokens, {S} a string
# literal, {E} an exception, {N} a name.
_STATEMENTS = [
    "raise{s}{E}", "raise{s}({E})", "raise{s}{E}{s}from{s}None",
    "raise{s}{E}{s}from{s}ValueError({S})", "raise{s}{E}.with_traceback(None)",
    "return{s}1{s}/{s}0", "return{s}D[{S}]", "return{s}g()", "return{s}(g())",
    "return{s}g(){s}", "return g(\n        {S})",
    "assert{s}D{s}=={s}1,{s}{S}", "assert{s}False", "assert(False)",
    "del{s}D[{S}]", "del{s}undefined_name", "del(D[{S}])",
    "import{s}no_such_module_xyz", "import{s}os,{s}no_such_module_xyz",
    "from{s}no_such_module_xyz{s}import{s}x", "from{s}os{s}import{s}no_such_name_xyz",
    "from . import nothing",
    "{N}{s}={s}D[{S}]", "D[{S}][1]{s}+{s}1", "g()", "{N} = g()", "g(){s}",
    "(lambda:{s}1/0)()", "[1/0{s}for{s}_{s}in{s}(1,)]", "{N} = D[{S}]",
    "int({S})", "max(1,{s}2)[0]", "D.get(1)[0]{s}+{s}D[{S}]", "{N}.attr",
    "returned()", "raised()[{S}]", "1{s}+{s}(lambda: D[{S}])()",
    "{N} = {{k: D[k] for k in [{S}]}}", "g(); pass",
    "compile('a b' + {S}, {S}, 'exec')", "eval({S} + ' +')", "exec('raise ValueError()')",
]
_EXCEPTIONS = [
    "ValueError({S})", "KeyboardInterrupt({S})", "BadStr()", "noted(KeyError({S}), {S})",
    "ExceptionGroup({S}, [ValueError({S}), TypeError(2)])",
    "MySyntax({S}, ('file.py', 1, 2, 'a b c', 1, 4))", "SyntaxError({S})",
    "RecursionError()", "ValueError",
]
# What a line of a file replaced after the raise may hold in the raise's
# place (the positions are the old instruction's).
_OTHER_LINES = ["raise X", "\traise  X  ", "\x0craise X", "    return(1)", "return\x0c1",
                "    del  x  # ünï", "import os\x85", "from x import (y)", "  assert x\u2028",
                "    raise ValueError('日本語')", "returnx", "    raise" + " " * 300,
                "\u3000raise X", "    x = D[1] + 1", "    g()"]
_PRELUDE = """\
import sys
class BadStr(Exception):
    def __str__(self):
        raise RuntimeError("no str")
class MySyntax(SyntaxError):
    pass
def noted(error, note):
    error.add_note(note)
    return error
D = {}
def g():
    raise ValueError("from g")
def returned():
    raise KeyError("returned")
def raised():
    return {}
def deco(function):
    def wrapper(*args):
        return function(*args)
    return wrapper
def recurse(n):
    return recurse(n + 1)
"""
# How the statement is reached: {I} one indent, {T} the statement's line.
_WRAPPERS = [
    "def target():\n{I}{T}\n",
    "def target():\n{I}def inner():\n{I}{I}{T}\n{I}return inner()\n",
    "@deco\ndef target():\n{I}{T}\n",
    "def target():\n{I}class C:\n{I}{I}{T}\n",
    "def target():\n{I}try:\n{I}{I}{T}\n{I}except BaseException as exc:\n"
    "{I}{I}raise RuntimeError('wrapped') from exc\n",
    "def target():\n{I}try:\n{I}{I}{T}\n{I}except BaseException:\n{I}{I}D[0]\n",
    "def target():\n{I}try:\n{I}{I}{T}\n{I}except BaseException:\n{I}{I}raise\n",
    "def target():\n{I}return [(lambda: 0)() for _ in (1,) if not ({T})]\n",
    "def target():\n{I}recurse(0)\n",
]


@st.composite
def _string_literal(draw, latin1: bool) -> str:
    pieces = [piece for piece in _TEXT_PIECES
              if not latin1 or piece.encode("latin-1", "ignore").decode("latin-1") == piece]
    text = "".join(draw(st.lists(st.sampled_from(pieces), max_size=4)))
    quote = draw(st.sampled_from(["'", '"']))
    return quote + text + quote


@st.composite
def _source(draw) -> dict[str, object]:
    """A module (as bytes) whose target() raises, and how it is written."""
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "latin-1"]))
    latin1 = encoding == "latin-1"
    literal = _string_literal(latin1)
    fill = {"s": draw(st.sampled_from(_SEPARATORS)),
            "S": draw(literal),
            "N": draw(st.sampled_from([n for n in _NAMES if not latin1 or n.isascii()
                                       or n == "ünï"]))}
    exception = draw(st.sampled_from(_EXCEPTIONS)).format(**fill)
    statement = draw(st.sampled_from(_STATEMENTS)).format(E=exception, **fill)
    prefix = draw(st.sampled_from(["", "pass; ", "y = 1;\t", "pass ;"]))
    suffix = draw(st.sampled_from(["", "  ", "\t", "  # comment ünï ✓" if not latin1 else "# é",
                                   "; pass", " \x0c", "# " + "z" * 200]))
    line_start = draw(st.sampled_from(["", "", "\x0c", "  \x0c"]))
    indent = draw(st.sampled_from(["    ", "\t", "  ", " " * 40]))
    wrapper = draw(st.sampled_from(_WRAPPERS))
    body = wrapper.format(I=indent, T=prefix + statement + suffix)
    if line_start:   # a form feed before the failing line's indentation
        lines = body.split("\n")
        index = next((i for i, line in enumerate(lines) if statement in line), None)
        if index is not None:
            lines[index] = line_start + lines[index]
        body = "\n".join(lines)
    head = draw(st.sampled_from(["", "# -*- coding: utf-8 -*-\n", "#!/usr/bin/env python\n"]))
    if latin1:
        head = draw(st.sampled_from(["# -*- coding: latin-1 -*-\n",
                                     "#!/bin/sh\n# vim: set fileencoding=iso-8859-1 :\n"]))
    text = head + _PRELUDE + body
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    data = text.encode(encoding)
    if encoding == "utf-8" and draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return {"data": data, "where": draw(st.sampled_from(["file", "file", "no file", "gone path"])),
            "after": draw(st.sampled_from(["nothing", "nothing", "rewritten", "shifted",
                                           "deleted", "rewritten, same size and time",
                                           "replaced"])),
            "other": draw(st.sampled_from(_OTHER_LINES))}


_counter = itertools.count()


def _outcome(function, *args) -> tuple[str, str]:
    """The text, or the type of what was raised instead (traceback itself
    fails on some sources: both must then fail alike)."""
    try:
        return ("text", function(*args))
    except Exception as exc:  # noqa: BLE001
        return ("raised", type(exc).__name__)


def _compare(error: BaseException) -> None:
    for _ in range(2):                  # formatted, then from the table
        ours = _outcome(delivery._format, type(error), error, error.__traceback__)
        theirs = _outcome(lambda: "".join(traceback.format_exception(
            type(error), error, error.__traceback__)))
        assert ours == theirs


def _depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def _raise(namespace: dict[str, object]) -> BaseException | None:
    try:
        namespace["target"]()  # type: ignore[operator]
    except BaseException as exc:  # noqa: BLE001
        return exc
    return None


def _change(path: str, data: bytes, how: str, other: str) -> None:
    """Change the file after the raise: linecache must then read it anew
    (or not) for both formatters alike."""
    if how == "deleted":
        os.remove(path)
    elif how == "shifted":          # every line one further down
        with open(path, "wb") as out:
            out.write(b"\n" + data)
    elif how == "replaced":         # every line of the body something else
        lines = data.split(b"\n")
        with open(path, "wb") as out:
            out.write(b"\n".join(lines[:22] + [other.encode("utf-8")] * 20))
    elif how.startswith("rewritten"):
        stat = os.stat(path)
        new = data.replace(b"raise", b"RAISE").replace(b"return", b"\x0creturn")
        if "same size" in how:
            new = data.replace(b"raise", b"Raise")
        with open(path, "wb") as out:
            out.write(new)
        if "same size" in how:
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(case=_source())
def test_generated_reports_are_what_traceback_writes(case, tmp_path_factory):
    folder = tmp_path_factory.getbasetemp()
    path = str(folder / f"generated_{next(_counter)}.py")
    data: bytes = case["data"]
    filename = {"file": path, "no file": f"<generated {next(_counter)}>",
                "gone path": path + ".gone"}[case["where"]]
    with open(path, "wb") as out:
        out.write(data)
    try:
        code = compile(data, filename, "exec")
    except SyntaxError:
        event("refused by the compiler")
        return
    namespace: dict[str, object] = {"__name__": "generated"}
    exec(code, namespace)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_depth() + 120)      # recursion errors: short and quick
    try:
        error = _raise(namespace)
        if error is None:
            return
        event(f"raised {type(error).__name__}")
        _compare(error)
        _change(path, data, case["after"], case["other"])
        _compare(error)                 # the file changed or gone since
        again = _raise(namespace)       # the same places once more: the table
        if again is not None:
            _compare(again)
    finally:
        sys.setrecursionlimit(limit)
