"""The traceback text of a report is exactly what ``traceback`` writes,
although each distinct frame is formatted once (issue 21: a report costs no
more than a plain Python hook's); the table of formatted frames is bounded."""
from __future__ import annotations

import linecache
import traceback

import pytest

from pyqtguard.exceptions import delivery as _exceptions


def _chained() -> None:
    try:
        {}["key"]
    except KeyError as exc:
        raise ValueError("wrapped") from exc


def _context() -> None:
    try:
        1 / 0
    except ZeroDivisionError:
        [][3]


def _recursing(depth: int) -> int:
    return _recursing(depth + 1)


def _group() -> None:
    raise ExceptionGroup("several", [ValueError(1), TypeError(2)])  # noqa: F821 - 3.11+


def _syntax() -> None:
    compile("a b", "broken.py", "exec")


def _carets() -> None:
    table: dict[str, object] = {"x": None}
    table["x"]["y"] + 1  # type: ignore[index]


def _noted() -> None:
    error = KeyError("n")
    error.add_note("a note")
    raise error


def _suppressed() -> None:
    try:
        1 / 0
    except ZeroDivisionError:
        raise LookupError("no context shown") from None


# Whole-line statements whose carets traceback leaves out (formatted
# without parsing the line), and their near misses, which keep them.
def _raise_whole_line() -> None:
    raise ValueError("ünïcödé ✓ before the offsets")


def _raise_with_comment() -> None:
    raise ValueError("a comment after it")  # the carets stop before this


def _raise_in_parentheses() -> None:
    raise(ValueError("no space after the keyword"))


def _raise_after_a_statement() -> None:
    value = 1; raise ValueError(value)  # noqa: E702


def _raise_over_two_lines() -> None:
    raise ValueError(
        "two lines")


def _assert_fails() -> None:
    assert [] == [1], "message"


def _del_missing() -> None:
    table: dict[str, int] = {}
    del table["missing"]


def _import_missing() -> None:
    import pyqtguard_no_such_module  # noqa: F401


def _from_import_missing() -> None:
    from pyqtguard import no_such_name  # noqa: F401


def _return_division() -> float:
    return 1 / 0


def _return_call() -> None:
    return _raise_whole_line()


def returned() -> None:
    raise KeyError("a name that begins with a keyword")


def _keyword_like_name() -> None:
    returned()


def raised_table() -> dict[str, object]:
    return {}


def _keyword_like_subscript() -> None:
    raised_table()["x"]


CASES = [_chained, _context, lambda: _recursing(0), _group, _syntax, _carets, _noted,
         _suppressed, _raise_whole_line, _raise_with_comment, _raise_in_parentheses,
         _raise_after_a_statement, _raise_over_two_lines, _assert_fails, _del_missing,
         _import_missing, _from_import_missing, _return_division, _return_call,
         _keyword_like_name, _keyword_like_subscript]


def _raised(function) -> BaseException:
    try:
        function()
    except BaseException as exc:  # noqa: BLE001
        return exc
    raise AssertionError("did not raise")


@pytest.mark.parametrize("function", CASES, ids=lambda f: getattr(f, "__name__", "case"))
def test_report_text_is_what_traceback_writes(function):
    error = _raised(function)
    expected = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    for _ in range(2):                  # formatted, then from the table
        assert _exceptions._format(type(error), error, error.__traceback__) == expected
    fresh = _raised(function)           # the same places, another exception
    assert (_exceptions._format(type(fresh), fresh, fresh.__traceback__)
            == "".join(traceback.format_exception(type(fresh), fresh, fresh.__traceback__)))


def test_a_value_that_is_not_an_exception_is_formatted_as_traceback_does():
    assert (_exceptions._format(ValueError, None, None)
            == "".join(traceback.format_exception(ValueError, None, None)))


def test_the_table_of_formatted_frames_is_bounded():
    namespace: dict[str, object] = {}
    count = _exceptions._FRAMES_MAX + 200
    source = "".join(f"def f{i}():\n    raise ValueError({i})\n" for i in range(count))
    exec(compile(source, "<many places>", "exec"), namespace)
    for i in range(count):
        error = _raised(namespace[f"f{i}"])
        _exceptions._format(type(error), error, error.__traceback__)
        assert len(_exceptions._formatted_frames) <= _exceptions._FRAMES_MAX


# Whole-line raises whose source line holds a character that str.splitlines
# takes for a line break and Python's tokenizer does not (form feed, NEL,
# U+001C, U+2028): traceback 3.13+ splits a frame's lines so, and shows a
# part of the line; without column positions it shows all of it.
LINE_BREAKS_TO_SPLITLINES = {
    "form feed before the indentation": "\x0c    raise ValueError('x')",
    "form feed after the keyword": "    raise\x0cValueError('x')",
    "form feed in a string": "    raise ValueError('a\x0cb')",
    "NEL in a string": "    raise ValueError('a\x85b')",
    "file separator in a string": "    raise ValueError('a\x1cb')",
    "line separator in a string": "    raise ValueError('a\u2028b')",
}


def _raised_from_file(path, line: str) -> BaseException:
    """The exception of *line*, the body of a function in a real file
    (linecache reads its source as it reads an app's)."""
    path.write_text(f"def f():\n{line}\n", encoding="utf-8")
    namespace: dict[str, object] = {}
    exec(compile(path.read_bytes(), str(path), "exec"), namespace)
    return _raised(namespace["f"])


@pytest.mark.parametrize("name", LINE_BREAKS_TO_SPLITLINES)
def test_a_line_with_a_splitlines_break_is_shown_as_traceback_does(name, tmp_path):
    error = _raised_from_file(tmp_path / "split.py", LINE_BREAKS_TO_SPLITLINES[name])
    expected = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    for _ in range(2):
        assert _exceptions._format(type(error), error, error.__traceback__) == expected


def _outcome(function, *args) -> str:
    try:
        return function(*args)
    except Exception as exc:  # noqa: BLE001
        return f"raised {type(exc).__name__}"


def test_a_source_line_traceback_cannot_encode_fails_alike(tmp_path):
    """A line put in linecache by hand (a shell's cell, a stale entry) with
    a lone surrogate where the raise was: traceback fails encoding it for
    its offsets, so the report is not traceback's text either way; the
    C hook then writes its own short report, as for any other failure."""
    path = tmp_path / "surrogate.py"
    error = _raised_from_file(path, "    raise ValueError('abc')")
    linecache.cache[str(path)] = (0, None, ["def f():\n", "    raise ValueError('\ud800')\n"],
                                  str(path))
    try:
        expected = _outcome(lambda: "".join(
            traceback.format_exception(type(error), error, error.__traceback__)))
        assert expected == "raised UnicodeEncodeError"
        assert _outcome(_exceptions._format, type(error), error, error.__traceback__) == expected
    finally:
        linecache.cache.pop(str(path), None)
