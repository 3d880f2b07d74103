"""A guarded app under the interpreter flags and process environments real
users have (h24): each case runs a small app the way a user would start it
and asserts that pyqtguard's reports still reach the run log and that
pyqtguard adds no failure of its own (docs/hostile-review.md, "Interpreter
flags and process environments").
"""
from __future__ import annotations

import os
import signal
import sys

import pytest

from apprunner import newest_run, run_app

SEGV = -signal.SIGSEGV

# (a) raises in a slot, (b) segfaults in a worker thread, (c) freezes the
# GUI thread, (d) leaves a non-daemon thread behind at exit.
APP = """
import sys, threading, time
import pyqtguard
pyqtguard.install(exit_timeout=1, freeze_ms=300)
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])
mode = sys.argv[1]

def slot():
    raise ValueError("broken slot")

def segv():
    import ctypes
    thread = threading.Thread(target=ctypes.string_at, args=(0,), name="loader")
    thread.start()
    thread.join()

def freeze():
    time.sleep(0.8)

def stuck():
    threading.Thread(target=threading.Event().wait, name="stuck").start()

QTimer.singleShot(50, globals()[mode])
QTimer.singleShot(1200 if mode == "freeze" else 300, app.quit)
sys.exit(app.exec())
"""

# What each mode leaves: exit status, a line of the run log, the outcome
# `pyqtguard logs` reads from it.
EXPECTED = {
    "slot": (0, "ValueError: broken slot", "1 exception"),
    "segv": (SEGV, "=== pyqtguard crash report ===", "crashed (SIGSEGV"),
    "freeze": (0, "GUI freeze: the event loop has not turned for", "1 GUI freeze"),
    "stuck": (124, "=== pyqtguard exit timeout ===", "exit timeout (124)"),
}


@pytest.mark.skipif(sys.platform != "linux", reason="a folder name that is not UTF-8: Linux")
@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_app_in_a_folder_whose_name_is_not_utf8(tmp_path, mode):
    """An app in a folder named with bytes that are not UTF-8 (an old
    archive's, a USB stick's): Python names its files with lone surrogates
    (surrogateescape), which UTF-8 cannot encode.  Before, the slot's
    exception reached stderr but not the log, the freeze lines were
    written as repr() (`pyqtguard logs` saw no freeze) and the exit-timeout
    report failed ("report 'X' failed: UnicodeEncodeError"): every report
    that named an app file.  Now the names are written escaped, as Python's
    stderr shows them."""
    folder = tmp_path / os.fsdecode(b"caf\xe9")
    folder.mkdir()
    result = run_app(APP, tmp_path, args=[mode], script_name=f"{folder.name}/app.py",
                     timeout=60)
    status, line, outcome = EXPECTED[mode]
    assert result.returncode == status, result.describe()
    assert line in result.log, result.describe()
    assert "caf\\udce9" in result.log, result.describe()
    assert "UnicodeEncodeError" not in result.stderr + result.log, result.describe()
    assert "failed" not in result.stderr, result.describe()
    assert outcome in str(newest_run(result.log_dir)["summary"]), result.describe()


def _importable_isolated() -> bool:
    """`python -I` ignores PYTHONPATH: pyqtguard must be installed."""
    import subprocess

    return subprocess.run([sys.executable, "-I", "-c", "import pyqtguard"],
                          capture_output=True, timeout=60).returncode == 0


@pytest.mark.parametrize("python_args, env", [
    (["-X", "dev", "-W", "error"], {}),
    (["-W", "error::ResourceWarning", "-X", "tracemalloc=5"], {}),
    (["-OO"], {}),
    (["-I"], {}),
    ([], {"PYTHONMALLOC": "debug", "PYTHONIOENCODING": "ascii"}),
], ids=["dev-Werror", "ResourceWarning-tracemalloc", "OO", "isolated", "mallocdebug-ascii"])
def test_interpreter_flags_hold(tmp_path, python_args, env):
    """Held cases of the table: under these flags `pyqtguard run` still
    reports the slot's exception in the log (PYQTGUARD_LOG_DIR read under
    -I too: isolated mode ignores PYTHON* variables only), writes nothing
    to stderr beyond the report, and `pyqtguard logs` reads the run."""
    if "-I" in python_args and not _importable_isolated():
        pytest.skip("pyqtguard not installed in this interpreter (-I ignores PYTHONPATH)")
    source = APP.replace("import pyqtguard\npyqtguard.install(exit_timeout=1, freeze_ms=300)\n",
                         "")
    result = run_app(source, tmp_path, args=["slot"], under_run=True,
                     python_args=python_args, env=env, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "ValueError: broken slot" in result.log, result.describe()
    assert "ValueError: broken slot" in result.stderr, result.describe()
    for trouble in ("Warning", "Exception ignored", "failed", "pyqtguard: cannot"):
        assert trouble not in result.stderr, result.describe()
    assert newest_run(result.log_dir)["summary"] == "1 exception", result.describe()
