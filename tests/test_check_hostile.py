"""`pyqtguard check` against hostile trees (issue 19): it never crashes, never
hangs, never bloats, and its verdicts are right.

Every case runs the real command in a subprocess with a timeout (a hang fails
the test rather than the suite) and an address-space limit (memory growth
ends in MemoryError rather than eating the machine), and asserts: no
traceback, an exit status in {0, 1, 2}, the other files' findings kept.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apprunner import REPO

MEMORY_LIMIT = 1 << 30          # 1 GiB of address space for the checker
QT_HEAD = "import sys\nfrom PyQt6.QtWidgets import QApplication\n"
POOL = "import multiprocessing\nmultiprocessing.Pool()\n"     # PQG005 on line 2


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[bytes]) -> None:
        self.returncode = proc.returncode
        self.stdout = proc.stdout.decode("utf-8", "backslashreplace")
        self.stderr = proc.stderr.decode("utf-8", "backslashreplace")

    def findings(self) -> set[tuple[str, int, str]]:
        return {(Path(f["path"]).name, f["line"], f["code"]) for f in json.loads(self.stdout)}

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def check(*args: str | Path, fmt: str = "json", env: dict[str, str] | None = None) -> Run:
    proc = subprocess.run([sys.executable, "-m", "pyqtguard", "check", "--format", fmt,
                           *map(str, args)], capture_output=True, timeout=60, cwd=REPO,
                          preexec_fn=_limit_memory, env={**os.environ, **(env or {})})
    run = Run(proc)
    assert "Traceback" not in run.stderr, str(run)
    assert run.returncode in (0, 1, 2), str(run)
    return run


# ---- parser limits: one PQG009 for that file, the others still checked ----

PARSER_LIMITS = {
    "expression_100k_terms": "x = " + "+".join(["1"] * 100_000) + "\n",
    "attribute_chain_100k": "x = a" + ".b" * 100_000 + "\n",
    "call_chain_100k": "x = f" + "()" * 100_000 + "\n",
    "subscript_chain_100k": "x = a" + "[0]" * 100_000 + "\n",
    "nested_lambdas_10k": "x = " + "lambda: " * 10_000 + "0\n",
    "elif_chain_50k": "if x == 0:\n    pass\n" + "".join(
        f"elif x == {i}:\n    pass\n" for i in range(1, 50_000)),
    "unary_not_100k": "x = " + "not " * 100_000 + "y\n",
    "parentheses_1000": "x = " + "(" * 1000 + "1" + ")" * 1000 + "\n",
}


def _python_parses(path: Path) -> bool:
    """Whether this Python's ast.parse() takes *path* (in a child: a parse
    that overflows the C stack must not take the test run with it)."""
    probe = "import ast, sys; ast.parse(open(sys.argv[1]).read())"
    return subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True,
                          timeout=60).returncode == 0


@pytest.mark.parametrize("name", sorted(PARSER_LIMITS))
def test_a_file_over_the_parsers_limits_is_one_finding_and_the_run_goes_on(tmp_path, name):
    (tmp_path / "deep.py").write_text("import PyQt6\n" + PARSER_LIMITS[name])
    (tmp_path / "pool.py").write_text(POOL)
    run = check(tmp_path)
    assert run.returncode == 1, str(run)
    found = json.loads(run.stdout)
    if _python_parses(tmp_path / "deep.py"):
        # Within this Python's limits (3.14 parses a 100,000-long attribute
        # chain; 3.11-3.13 do not): checked as any file, nothing to find.
        assert {(Path(f["path"]).name, f["code"]) for f in found} == {
            ("pool.py", "PQG005")}, str(run)
        return
    assert {(Path(f["path"]).name, f["code"]) for f in found} == {
        ("deep.py", "PQG009"), ("pool.py", "PQG005")}, str(run)
    deep = next(f for f in found if f["path"].endswith("deep.py"))
    assert deep["message"].startswith(("syntax error", "cannot be parsed")), deep


def test_a_100k_attribute_chain_python_parses_is_followed_to_its_finding(tmp_path):
    # 3.14's parser takes it: the checker's walk (not recursive) must reach
    # the QApplication at its bottom.  Where the parser refuses it, PQG009.
    (tmp_path / "deep.py").write_text(QT_HEAD + "x = QApplication(sys.argv)" + ".b" * 100_000
                                      + "\n")
    run = check(tmp_path)
    found = json.loads(run.stdout)
    expected = ("PQG001", 3) if _python_parses(tmp_path / "deep.py") else ("PQG009", 1)
    assert [(f["code"], f["line"]) for f in found] == [expected], str(run)


# ---- the checker's own walks: deep valid code is followed to its finding ----

def _deep_valid_cases() -> dict[str, tuple[str, int]]:
    """name -> (source, line of the PQG001 it must find)."""
    elifs = "".join(f"elif x == {i}:\n    pass\n" for i in range(1, 1500))
    calls = "".join(f"def f{i}():\n    f{i + 1}()\n\n" for i in range(200))
    return {
        "attribute_chain_2000": (QT_HEAD + "x = QApplication(sys.argv)" + ".b" * 2000 + "\n", 3),
        "call_chain_2000": (QT_HEAD + "x = QApplication(sys.argv)" + "()" * 2000 + "\n", 3),
        "expression_2000_terms": (QT_HEAD + "x = QApplication(sys.argv)" + " + 1" * 2000
                                  + "\n", 3),
        "elif_chain_1500": (QT_HEAD + "x = 1\nif x == 0:\n    pass\n" + elifs
                            + "else:\n    app = QApplication(sys.argv)\n", 3 + 2 + 2 * 1499 + 2),
        "class_body_call_chain_2000": (QT_HEAD + "class C:\n    x = QApplication(sys.argv)"
                                       + "()" * 2000 + "\n", 4),
        "functions_200_each_calling_the_next": (
            QT_HEAD + calls + "def f200():\n    app = QApplication(sys.argv)\n\nf0()\n",
            2 + 3 * 200 + 2),
    }


@pytest.mark.parametrize("name", sorted(_deep_valid_cases()))
def test_deep_valid_code_is_followed_to_its_finding(tmp_path, name):
    source, line = _deep_valid_cases()[name]
    (tmp_path / "app.py").write_text(source)
    run = check(tmp_path / "app.py")
    assert ("app.py", line, "PQG001") in run.findings(), str(run)
    assert run.returncode == 1


def test_a_chain_of_1000_project_imports_is_followed(tmp_path):
    for i in range(1000):
        (tmp_path / f"m{i}.py").write_text(f"import m{i + 1}\n")
    (tmp_path / "m1000.py").write_text(QT_HEAD + "app = QApplication(sys.argv)\n")
    (tmp_path / "app.py").write_text("import PyQt6\nimport m0\n\nif __name__ == '__main__':\n"
                                     "    pass\n")
    run = check(tmp_path / "app.py", fmt="text")
    assert run.returncode == 1, str(run)
    assert ":2:1: PQG007 imported module 'm0' builds a QApplication" in run.stdout
    assert "m1000.py:3)" in run.stdout, str(run)


# ---- what is read: regular files under a size cap ----

@pytest.mark.parametrize("kind", ["over_cap", "too_deep"])
def test_an_imported_module_that_cannot_be_analysed_is_a_note(tmp_path, kind):
    """Checking app.py alone: the module it imports is not analysed, and the
    PQG007 verdict rests on it, so the user is told.  (A FIFO or a device
    named mod.py is no module: Python's import skips it, and so does check.)"""
    (tmp_path / "app.py").write_text("import PyQt6\nimport mod\n\nif __name__ == '__main__':\n"
                                     "    pass\n")
    (tmp_path / "mod.py").write_text("x = " + "+".join(["1"] * 100_000) + "\n")
    run = check(*(["--max-size", "1k"] if kind == "over_cap" else []), tmp_path / "app.py")
    assert run.returncode == 0 and run.findings() == set(), str(run)
    reason = {"over_cap": "over the size cap", "too_deep": "cannot be parsed"}[kind]
    notes = [line for line in run.stderr.splitlines() if "mod.py" in line]
    assert len(notes) == 1 and "app.py, not analysed: " in notes[0], str(run)
    assert notes[0].endswith(("skipped", ")")) and reason in notes[0], str(run)
    both = check(*(["--max-size", "1k"] if kind == "over_cap" else []), tmp_path)
    assert sum("mod.py" in line for line in both.stderr.splitlines() + both.stdout.splitlines()
               ) == 1, str(both)            # said once, not once per way it was reached

def test_a_fifo_named_py_is_skipped_with_a_note(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "pool.py").write_text(POOL)
    run = check(tmp_path)
    assert run.findings() == {("pool.py", 2, "PQG005")}, str(run)
    assert "pipe.py: not a regular file (FIFO), skipped" in run.stderr, str(run)
    direct = check(tmp_path / "pipe.py")
    assert direct.returncode == 0 and "not a regular file (FIFO)" in direct.stderr, str(direct)


def test_a_symlink_to_dev_zero_is_skipped_with_a_note(tmp_path):
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    (tmp_path / "pool.py").write_text(POOL)
    run = check(tmp_path)
    assert run.findings() == {("pool.py", 2, "PQG005")}, str(run)
    assert "zero.py: not a regular file (character device), skipped" in run.stderr, str(run)


def test_a_50_mb_source_is_skipped_with_a_note(tmp_path):
    line = b"x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]\n"
    with open(tmp_path / "huge.py", "wb") as stream:
        stream.write(b"import PyQt6\n")
        stream.write(line * (50 * 2**20 // len(line)))
    (tmp_path / "pool.py").write_text(POOL)
    run = check(tmp_path)
    assert run.findings() == {("pool.py", 2, "PQG005")}, str(run)
    assert "huge.py: 52" in run.stderr and "over the size cap" in run.stderr, str(run)


def test_the_size_cap_is_an_option(tmp_path):
    (tmp_path / "pool.py").write_text(POOL)
    small = check("--max-size", "10", tmp_path)
    assert small.returncode == 0 and small.findings() == set(), str(small)
    assert (f"pool.py: {len(POOL)} bytes, over the size cap (10 bytes; --max-size), "
            "skipped") in small.stderr, str(small)
    assert check("--max-size", "1M", tmp_path).findings() == {("pool.py", 2, "PQG005")}
    bad = check("--max-size", "lots", tmp_path)
    assert bad.returncode == 2 and "--max-size" in bad.stderr, str(bad)


# ---- encodings as Python reads them ----

def test_a_utf8_byte_order_mark_is_honoured(tmp_path):
    source = QT_HEAD + "app = QApplication(sys.argv)\n"
    (tmp_path / "app.py").write_bytes(b"\xef\xbb\xbf" + source.encode())
    run = check(tmp_path / "app.py")
    assert run.findings() == {("app.py", 3, "PQG001")}, str(run)


@pytest.mark.parametrize("encoding,text", [("latin-1", "caf\xe9"), ("cp1252", "\u20ac 5"),
                                           ("shift_jis", "\u65e5\u672c\u8a9e")])
def test_a_pep_263_coding_cookie_is_honoured(tmp_path, encoding, text):
    source = (f"# -*- coding: {encoding} -*-\n" + QT_HEAD + f"label = {text!r}\n"
              "app = QApplication(sys.argv)\n")
    (tmp_path / "app.py").write_bytes(source.encode(encoding))
    run = check(tmp_path / "app.py")
    assert run.findings() == {("app.py", 5, "PQG001")}, str(run)


def test_an_unknown_coding_cookie_is_a_note(tmp_path):
    (tmp_path / "app.py").write_text("# coding: no-such-codec\n" + QT_HEAD
                                     + "app = QApplication(sys.argv)\n")
    run = check(tmp_path / "app.py")
    assert run.returncode == 0 and "unknown encoding" in run.stderr, str(run)


# ---- noqa where the tokenizer says ----

@pytest.mark.parametrize("oddity", ["\f# section\n", "s = 'a\u2028b'\n", "# a\u2029b\n",
                                    "s = 'a\x1cb\x1db\x1eb\x85b'\n", "x = 1\r"])
def test_noqa_is_found_on_the_tokenizers_line(tmp_path, oddity):
    source = (QT_HEAD + oddity + "app = QApplication(sys.argv)  # noqa\n" + "app.exec()\n")
    (tmp_path / "app.py").write_bytes(source.encode())
    run = check(tmp_path / "app.py")
    assert run.findings() == {("app.py", 5, "PQG002")}, str(run)


def test_noqa_in_a_string_is_not_a_comment(tmp_path):
    (tmp_path / "app.py").write_text(QT_HEAD + "app = QApplication(sys.argv); s = '# noqa'\n")
    assert check(tmp_path / "app.py").findings() == {("app.py", 3, "PQG001")}


def test_a_bom_with_another_coding_cookie_and_a_socket_are_notes(tmp_path):
    import socket

    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf# coding: latin-1\n" + POOL.encode())
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "sock.py"))
        run = check(tmp_path)
    assert run.returncode == 0, str(run)
    assert "bom.py: encoding problem: utf-8, skipped" in run.stderr, str(run)
    assert "sock.py: not a regular file (socket), skipped" in run.stderr, str(run)


# ---- the parser's warnings are not the checker's ----

@pytest.mark.parametrize("action", ["always", "error"])
def test_the_parsers_warnings_are_neither_printed_nor_errors(tmp_path, action):
    """The file's text would reach stderr in a warning's source line, and
    with PYTHONWARNINGS=error a warning would be taken for a syntax error."""
    (tmp_path / "app.py").write_text(QT_HEAD + "x = 1if True else 2\ny = '\\d'\n"
                                     "app = QApplication(sys.argv)\n")
    run = check(tmp_path / "app.py", env={"PYTHONWARNINGS": action})
    assert run.findings() == {("app.py", 5, "PQG001")}, str(run)
    assert "Warning" not in run.stderr, str(run)


# ---- names that cannot forge output ----

def test_a_newline_in_a_file_name_cannot_forge_a_finding_line(tmp_path):
    name = "x\nforged.py:1:1: PQG001 fake finding\nbad.py"
    (tmp_path / name).write_text(POOL)
    run = check(tmp_path, fmt="text")
    assert run.returncode == 1, str(run)
    lines = run.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(tmp_path)), str(run)
    assert "x\\nforged.py:1:1: PQG001 fake finding\\nbad.py:2:1: PQG005" in lines[0]


@pytest.mark.parametrize("name,shown", [("\x1b[2J\x1b[31mred.py", "\\x1b[2J\\x1b[31mred.py"),
                                        ("a\u2028b.py", "a\\u2028b.py"),
                                        ("a\tb\rc.py", "a\\tb\\rc.py")])
def test_control_characters_in_file_names_are_escaped(tmp_path, name, shown):
    """Terminal escapes, Unicode line separators, tabs and carriage returns."""
    (tmp_path / name).write_text(POOL)
    run = check(tmp_path, fmt="text")
    assert run.stdout == f"{tmp_path}/{shown}:2:1: PQG005 " + run.stdout.split(" PQG005 ")[1]
    assert len(run.stdout.splitlines()) == 1


def test_a_file_name_that_is_not_utf8_is_printed_escaped(tmp_path):
    name = os.fsencode(tmp_path) + b"/caf\xe9.py"
    with open(name, "wb") as stream:
        stream.write(POOL.encode())
    run = check(tmp_path, fmt="text")
    assert run.returncode == 1, str(run)
    assert "caf\\udce9.py:2:1: PQG005" in run.stdout, str(run)


# ---- property: random and mutated sources ----
#
# In-process, through the command's own entry point: any exception escaping
# is a traceback the user would see.  Work is bounded by construction (sizes
# are capped) and by hypothesis' deadline per example, not by a timing assert.

FRAGMENTS = [
    "import sys\n", "import PyQt6\n", "from PyQt6.QtWidgets import QApplication\n",
    "import multiprocessing as mp\n", "from . import mod\n", "import mod\n",
    "app = QApplication(sys.argv)\n", "app.exec()\n", "w.show()\n", "mp.Pool()\n",
    "if __name__ == '__main__':\n", "if __name__ != '__main__' and x:\n", "else:\n",
    "elif x:\n", "def f():\n", "class C:\n", "f()\n", "C()\n", "    ", "\t", "\n", "\r",
    "\r\n", "\f", "\u2028", "\u2029", "\x85", "\x1c", "\ufeff", "\0", "\xe9", "\udce9",
    "# noqa\n", "  # noqa: PQG001\n", "# -*- coding: latin-1 -*-\n", "# coding: nope\n",
    "(", ")", "[", "]", "{", "}", "lambda: ", ".b", "()", "[0]", " + 1", "not ", "-",
    "'", '"', '"""', "'''", "\\", "f'{", "}'", ":", ",", "=", "@", "async ", "await ",
    "yield ", "match x:\n", "case _:\n",
]
SHAPES = {                      # a deep shape and how it repeats
    "attributes": ("x = a", ".b", "\n"), "calls": ("x = f", "()", "\n"),
    "terms": ("x = 1", " + 1", "\n"), "lambdas": ("x = ", "lambda: ", "0\n"),
    "nots": ("x = ", "not ", "y\n"), "parens": ("x = ", "(", "1\n"),
    "elifs": ("if x == 0:\n    pass\n", "elif x:\n    pass\n", ""),
    "calls_down": ("", "def f():\n    g()\n", "f()\n"),
}
CORPUS = Path(__file__).resolve().parent / "corpus"
CORPUS_SOURCES = sorted(p.read_bytes() for p in CORPUS.rglob("*.py"))
HOSTILE = settings(max_examples=40, deadline=timedelta(seconds=20), database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _run_in_process(source: bytes, fmt: str) -> None:
    """Check *source* (as mod.py, imported by a guarded app.py) and assert the
    properties: no exception, exit status 0/1/2, output that parses."""
    from pyqtguard.cli import main as cli_main

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "mod.py").write_bytes(source)
        (Path(folder) / "app.py").write_text("import PyQt6\nimport mod\n\n"
                                             "if __name__ == '__main__':\n    pass\n")
        out, err = StringIO(), StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = cli_main(["check", "--format", fmt, folder])
        assert status in (0, 1, 2), (status, out.getvalue(), err.getvalue())
        if fmt == "json":
            assert isinstance(json.loads(out.getvalue()), list)
        else:
            for line in out.getvalue().splitlines():       # no forged lines
                assert line.startswith((folder, "All checks passed", "No findings")), line
        assert "Traceback" not in err.getvalue()


@HOSTILE
@given(st.binary(max_size=4096), st.sampled_from(["text", "json"]))
def test_property_random_bytes(data, fmt):
    _run_in_process(data, fmt)


@HOSTILE
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=200), st.sampled_from(["text", "json"]))
def test_property_random_python_fragments(fragments, fmt):
    _run_in_process("".join(fragments).encode("utf-8", "surrogateescape"), fmt)


@HOSTILE
@given(st.sampled_from(CORPUS_SOURCES),
       st.lists(st.tuples(st.floats(0, 1), st.integers(0, 40),
                          st.sampled_from(FRAGMENTS)), min_size=1, max_size=20))
def test_property_mutated_corpus_sources(source, mutations):
    """Each mutation cuts up to 40 bytes at a point and puts a fragment there."""
    for where, cut, fragment in mutations:
        at = int(where * len(source))
        source = (source[:at] + fragment.encode("utf-8", "surrogateescape")
                  + source[at + cut:])
    _run_in_process(source, "text")


@HOSTILE
@given(st.sampled_from(sorted(SHAPES)), st.integers(1, 120_000))
def test_property_deep_shapes(shape, depth):
    head, unit, tail = SHAPES[shape]
    if shape == "calls_down":           # f0 calls f1 calls f2 ...: depth/100 functions
        body = "".join(f"def f{i}():\n    f{i + 1}()\n" for i in range(depth // 100 + 1))
        source = "import PyQt6\n" + body + "f0()\n"
    else:
        source = "import PyQt6\n" + head + unit * depth + tail
    _run_in_process(source.encode(), "json")
