"""The shipped examples run offscreen, survive what they trigger, exit 0."""
from __future__ import annotations

import subprocess
import sys

from apprunner import REPO, child_env

DEMO_BUGS = [
    "ValueError: slot could not parse 'data.csv'",
    "KeyError: 'missing'",
    "ConnectionError: QRunnable.run lost its connection",
    "MemoryError: QThread.run ran out of memory (pretend)",
    "ZeroDivisionError: paintEvent divided by zero",
    "TimeoutError: a plain threading.Thread timed out",
    "OSError: __del__ could not release a handle",
]


def _run(args, tmp_path):
    return subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=child_env(tmp_path / "logs"))


def _log(tmp_path):
    [log] = (tmp_path / "logs").glob("pyqtguard-*.log")
    return log.read_text()


def test_demo_app_under_pyqtguard_run(tmp_path):
    result = _run(["-m", "pyqtguard", "run", str(REPO / "examples" / "demo_app.py")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "survived every bug" in result.stdout
    log = _log(tmp_path)
    for bug in DEMO_BUGS:
        assert bug in log, bug
    assert "thread 'model-trainer'" in log
    assert "thread 'uploader'" in log
    assert "QThread 'indexer' (started at" in log and "lost its last Python reference" in log
    freeze = log[log.index("GUI freeze: the event loop has not turned"):]
    assert "in freeze_the_gui" in freeze and "GUI freeze ended" in freeze
    assert next(line for line in log.splitlines() if line.startswith("telemetry"))


def test_demo_app_narration_matches_the_log(tmp_path):
    """Each bug is announced on stdout before it fires, in the order the log
    reports them, and the last line names the run log."""
    result = _run(["-m", "pyqtguard", "run", str(REPO / "examples" / "demo_app.py")], tmp_path)
    assert result.returncode == 0, result.stderr
    log = _log(tmp_path)
    logged = sorted(DEMO_BUGS, key=log.index)
    assert logged == DEMO_BUGS, logged
    announced = [line.removeprefix("demo: firing a bug in ")
                 for line in result.stdout.splitlines() if line.startswith("demo: firing")]
    assert announced[:len(DEMO_BUGS)] == ["slot", "lambda", "QRunnable.run", "QThread.run",
                                          "paintEvent", "threading.Thread", "__del__"]
    [log_path] = (tmp_path / "logs").glob("pyqtguard-*.log")
    assert result.stdout.splitlines()[-1].endswith(str(log_path)), result.stdout
    # what goes where (README): reports on stderr, the log named once after
    # the first; freezes and lost QThreads in the log only
    assert result.stderr.count(f"pyqtguard: this run's log: {log_path}\n") == 1
    first = result.stderr.index("ValueError: slot could not parse 'data.csv'")
    assert result.stderr.index("pyqtguard: this run's log:") > first
    for bug in DEMO_BUGS:
        assert bug in result.stderr, bug
    assert "GUI freeze" in log and "GUI freeze" not in result.stderr
    assert "lost its last Python reference" not in result.stderr


def test_demo_app_without_pyqtguard_aborts(tmp_path):
    result = _run([str(REPO / "examples" / "demo_app.py")], tmp_path)
    assert result.returncode != 0
    assert "survived every bug" not in result.stdout


def test_error_dialog_example(tmp_path):
    result = _run([str(REPO / "examples" / "error_dialog.py"), "--auto"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "dialog shown for ZeroDivisionError from MainThread" in result.stdout
    assert "dialog shown for RuntimeError from worker" in result.stdout


def test_crash_last_time_example_two_runs(tmp_path):
    script = str(REPO / "examples" / "crash_last_time.py")
    first = _run([script, "--auto-crash"], tmp_path)
    assert first.returncode == -11, first.stderr
    second = _run([script, "--auto"], tmp_path)
    assert second.returncode == 0, second.stderr
    assert ("offered report: SIGSEGV (Segmentation fault) in 'MainThread' "
            "(File \"" + script + "\", line") in second.stdout
    assert "in decode_broken_frame)" in second.stdout
    assert "would send" in second.stdout
    third = _run([script, "--auto"], tmp_path)  # the crash is reported once
    assert third.returncode == 0 and "offered report" not in third.stdout


def test_hash_files_app_hashes_cancels_and_closes(tmp_path):
    import hashlib
    import random

    folder = tmp_path / "data"
    folder.mkdir()
    rng = random.Random(7)
    for index, size in enumerate([200_000, 1_000_000, 50_000, 30_000_000]):
        (folder / f"file{index}.bin").write_bytes(rng.randbytes(size))
    result = _run([str(REPO / "examples" / "hash_files_app.py"), "--auto", str(folder)],
                  tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "cancelled file3.bin" in lines          # the biggest, cancelled at once
    for index in range(3):
        digest = hashlib.sha256((folder / f"file{index}.bin").read_bytes()).hexdigest()
        assert f"sha256 file{index}.bin {digest}" in lines
    assert "Traceback" not in result.stderr
