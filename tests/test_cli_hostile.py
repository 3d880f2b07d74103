"""Hostile review of the command line (docs/hostile-review.md, "The command
line"): ``pyqtguard run`` gives the target what ``python`` gives it for
targets python accepts (zip apps, .pyc files, FIFOs, ``-``), and the other
commands survive broken pipes, hostile text and bad arguments.  Every case
runs the real command in a subprocess."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile

import pytest

from apprunner import child_env

NAMESPACE_PROBE = """\
import sys, __main__
print("builtins", type(__builtins__).__name__)
print("loader", type(__loader__).__name__, getattr(__loader__, "name", None),
      getattr(__loader__, "path", None))
print("keys", sorted(vars(__main__)))
print("spec", __spec__, "package", __package__, "cached", __cached__)
print("file", __file__)
print("argv", sys.argv)
print("path0", repr(sys.path[0]))
print("annotations", __annotations__ if "__annotations__" in vars(__main__) else "-")
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
"""


def _python(args, tmp_path, env=None, **kwargs):
    kwargs.setdefault("capture_output", True)
    return subprocess.run([sys.executable, *args], cwd=tmp_path, text=True,
                          timeout=60, env=env or child_env(tmp_path / "logs"), **kwargs)


def _run(args, tmp_path, env=None, **kwargs):
    return _python(["-m", "pyqtguard", "run", *args], tmp_path, env, **kwargs)


def _same(tmp_path, args, **kwargs):
    """``python ARGS`` and ``pyqtguard run ARGS``: same status and stdout."""
    plain = _python(args, tmp_path, **kwargs)
    guarded = _run(args, tmp_path, **kwargs)
    assert plain.returncode == guarded.returncode, (plain, guarded)
    assert plain.stdout == guarded.stdout, (plain.stdout, guarded.stdout, guarded.stderr)
    return plain, guarded


# ---- run: non-UTF-8 log folder ---------------------------------------------
def test_non_utf8_log_folder_does_not_stop_the_app(tmp_path):
    folder = os.path.join(os.fsencode(tmp_path), b"l\xe9gs")
    env = child_env(tmp_path / "unused")
    env = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
    env[b"PYQTGUARD_LOG_DIR"] = folder
    (tmp_path / "app.py").write_text("import ctypes\nprint('up', flush=True)\n"
                                     "raise ValueError('x')\n")
    guarded = subprocess.run([sys.executable, "-m", "pyqtguard", "run", "app.py"],
                             cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert guarded.stdout == b"up\n", guarded.stderr
    assert guarded.returncode == 1
    assert b"UnicodeEncodeError" not in guarded.stderr
    assert b"ValueError: x" in guarded.stderr
    [log] = [n for n in os.listdir(folder) if n.endswith(b".log")]
    assert b"ValueError: x" in open(os.path.join(folder, log), "rb").read()
    listing = subprocess.run([sys.executable, "-m", "pyqtguard", "logs"], cwd=tmp_path,
                             env=env, capture_output=True, timeout=60)
    assert listing.returncode == 0 and b"1 exception" in listing.stdout, listing.stderr


# ---- broken pipes -----------------------------------------------------------
@pytest.fixture
def many_logs(tmp_path):
    """A folder of 3 run logs, one of them crashed."""
    folder = tmp_path / "logs"
    (tmp_path / "ok.py").write_text("print('ok')\n")
    (tmp_path / "boom.py").write_text("import ctypes\nctypes.string_at(0)\n")
    for name in ("ok.py", "ok.py", "boom.py"):
        _run([name], tmp_path)
    return folder


@pytest.mark.parametrize("command", [
    ["logs"], ["logs", "--json"], ["report"], ["report", "--json"], ["report", "--last"],
    ["--help"], ["run", "--help"], ["check", "."],
], ids=" ".join)
def test_closed_stdout_is_no_traceback(tmp_path, many_logs, command):
    """``pyqtguard logs | head -1``: a reader gone before we write."""
    proc = subprocess.Popen([sys.executable, "-m", "pyqtguard", *command], cwd=tmp_path,
                            env=child_env(many_logs), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()                      # the reader is gone
    err = proc.stderr.read().decode()
    code = proc.wait(60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    # as a shell reports a SIGPIPE death; argparse's --help ignores the error
    assert code == (0 if "--help" in command else 141), err


# ---- hostile text in logs printed to a terminal ------------------------------
def _forge_crash_log(folder, pid=4242, thread="t", extra=""):
    folder.mkdir(parents=True, exist_ok=True)
    text = (f"pyqtguard 0.1.0 run log\napp: forged\npid: {pid}\n"
            "started: 2026-11-29 10:00:00 UTC\npython: 3.11.7 (linux)\n"
            "script: app.py (0 arguments, values not logged)\n\n"
            "=== pyqtguard crash report ===\nsignal: SIGSEGV (Segmentation fault)\n"
            f"time: 2026-11-29 10:00:01.000 UTC\npid: {pid}\n"
            f"thread: '{thread}' (native id {pid})\n\n"
            "Python stacks of all threads (the crashing thread first):\n"
            f"Current thread 0x00007f (most recent call first):\n"
            f"  File \"/tmp/app{extra}.py\", line 3 in boom{extra}\n"
            f"{extra}\n")
    path = folder / f"pyqtguard-20261129-100000000-{pid}-0.log"
    path.write_text(text)
    return path


ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\r"


def test_report_escapes_terminal_control_in_forged_logs(tmp_path):
    _forge_crash_log(tmp_path / "logs", extra=ESCAPES)
    for command in (["report"], ["report", "--last"], ["logs"]):
        result = _python(["-m", "pyqtguard", *command], tmp_path)
        assert result.returncode == 0, result.stderr
        assert "forged" in result.stdout or "SIGSEGV" in result.stdout, result.stdout
        for char in "\x1b\x07\x9b\r":
            assert char not in result.stdout, (command, result.stdout)


def test_report_prints_non_utf8_paths(tmp_path):
    folder = os.path.join(os.fsencode(tmp_path), b"l\xe9gs")
    os.mkdir(folder, 0o700)
    _forge_crash_log(tmp_path / os.fsdecode(b"l\xe9gs"))
    env = child_env(tmp_path / os.fsdecode(b"l\xe9gs"))
    env["PYTHONIOENCODING"] = "utf-8"       # a UTF-8 terminal: strict errors
    for command in (["report"], ["logs"]):
        result = _python(["-m", "pyqtguard", *command], tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert "\\udce9" in result.stdout or "\\xe9" in result.stdout, result.stdout


# ---- bad arguments: a clear error, status 2, no traceback -------------------
def test_no_command_is_a_usage_error_on_stderr(tmp_path):
    result = _python(["-m", "pyqtguard"], tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: pyqtguard" in result.stderr
