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
