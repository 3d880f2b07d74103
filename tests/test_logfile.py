"""Run logs: where they go, how they are created, how many are kept, and what
happens when the folder or the disk is unusable."""
from __future__ import annotations

import os
import stat
import time

import pytest

from apprunner import run_app

RAISE = """
import sys
import pyqtguard
pyqtguard.install({args})
print("log:", pyqtguard.log_path(), flush=True)
sys.excepthook(ValueError, ValueError("logged"), None)
print("continued", flush=True)
"""


def test_log_is_private_and_in_the_given_folder(tmp_path):
    result = run_app(RAISE.format(args=""), tmp_path)
    assert result.returncode == 0, result.describe()
    [log] = result.logs
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(result.log_dir.stat().st_mode) == 0o700
    assert f"log: {log}" in result.stdout
    text = log.read_text()
    assert text.startswith("pyqtguard 0.1.0 run log\napp: app\n")
    assert "ValueError: logged" in text


def test_default_folder_is_xdg_state_per_app(tmp_path):
    state = tmp_path / "state"
    result = run_app(RAISE.format(args=""), tmp_path,
                     env={"PYQTGUARD_LOG_DIR": "", "XDG_STATE_HOME": str(state)},
                     script_name="photo_editor.py")
    assert result.returncode == 0, result.describe()
    logs = list((state / "pyqtguard" / "photo_editor").glob("pyqtguard-*.log"))
    assert len(logs) == 1, result.describe()
    assert "ValueError: logged" in logs[0].read_text()


def test_install_log_dir_beats_environment(tmp_path):
    chosen = tmp_path / "chosen"
    result = run_app(RAISE.format(args=f"log_dir={str(chosen)!r}"), tmp_path)
    assert result.returncode == 0, result.describe()
    assert len(list(chosen.glob("pyqtguard-*.log"))) == 1
    assert result.logs == []


def test_keeps_only_the_newest_runs(tmp_path):
    for _ in range(5):
        result = run_app(RAISE.format(args="keep_logs=3"), tmp_path)
        assert result.returncode == 0, result.describe()
    logs = result.logs
    assert len(logs) == 3
    assert all("ValueError: logged" in p.read_text() for p in logs)


def test_planted_symlink_is_not_followed(tmp_path):
    """An attacker's symlink in the log folder never redirects our writes."""
    target = tmp_path / "victim.txt"
    target.write_text("precious\n")
    log_dir = tmp_path / "logs"
    log_dir.mkdir(mode=0o700)
    result = run_app("""
        import os, time
        from pathlib import Path
        from pyqtguard import logs as logfile
        folder = Path(os.environ["PYQTGUARD_LOG_DIR"])
        now = 1_800_000_000.25
        time.time = lambda: now  # so the attacker can predict the name exactly
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "250"
        victim = Path(os.environ["VICTIM"])
        for seq in range(3):  # plant every name this run could pick now
            (folder / f"pyqtguard-{stamp}-{os.getpid()}-{seq}.log").symlink_to(victim)
        import pyqtguard
        pyqtguard.install()
        print("log:", pyqtguard.log_path(), flush=True)
        logfile.write("written by pyqtguard\\n")
    """, tmp_path, env={"VICTIM": str(target)})
    assert result.returncode == 0, result.describe()
    assert target.read_text() == "precious\n"
    assert "-3.log" in result.stdout  # skipped the three planted names


def test_unwritable_folder_warns_once_and_keeps_going(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    result = run_app("""
        import sys
        import pyqtguard
        pyqtguard.install(repeat_interval=0)   # each report, not one and a count
        assert pyqtguard.log_path() is None
        for _ in range(3):
            sys.excepthook(ValueError, ValueError("still reported"), None)
        print("continued", flush=True)
    """, tmp_path, env={"PYQTGUARD_LOG_DIR": str(blocker / "logs")})
    assert result.returncode == 0, result.describe()
    assert "continued" in result.stdout
    assert result.stderr.count("cannot write run logs") == 1
    assert result.stderr.count("ValueError: still reported") == 3


def test_full_disk_warns_once_and_keeps_going(tmp_path):
    result = run_app("""
        import os, sys
        import pyqtguard
        from pyqtguard import _native
        from pyqtguard import logs as logfile
        pyqtguard.install(repeat_interval=0)   # each report, not one and a count
        _native.set_log_fd(os.open("/dev/full", os.O_WRONLY))  # every write: ENOSPC
        for _ in range(3):
            logfile.write("x" * 100 + "\\n")
            sys.excepthook(ValueError, ValueError("disk full"), None)
        print("continued", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "continued" in result.stdout
    assert result.stderr.count("disk full or file gone") == 1
    assert result.stderr.count("ValueError: disk full") == 3


def test_unparsable_env_threshold_is_warned_once_and_ignored(tmp_path):
    result = run_app("""
        import pyqtguard
        config = pyqtguard.install()
        pyqtguard.uninstall(); pyqtguard.install()
        print("timeout", config.exit_timeout, "freeze", config.freeze_ms,
              "repeat", config.repeat_interval, flush=True)
    """, tmp_path, env={"PYQTGUARD_EXIT_TIMEOUT": "soon", "PYQTGUARD_FREEZE_MS": "-4",
                        "PYQTGUARD_REPEAT_INTERVAL": "often"})
    assert result.returncode == 0, result.describe()
    assert "timeout 10.0 freeze 1000 repeat 60.0" in result.stdout
    assert result.stderr.count("PYQTGUARD_EXIT_TIMEOUT") == 1
    assert result.stderr.count("PYQTGUARD_FREEZE_MS") == 1
    assert result.stderr.count("PYQTGUARD_REPEAT_INTERVAL") == 1


def test_log_fd_is_kept_open_and_not_inherited(tmp_path):
    result = run_app("""
        import os
        import pyqtguard
        from pyqtguard import _native
        pyqtguard.install()
        fd = _native.log_fd()
        print("inheritable", os.get_inheritable(fd), flush=True)
    """, tmp_path)
    assert "inheritable False" in result.stdout, result.describe()
    assert os.name == "posix"


def test_event_lines_from_many_threads_never_interleave(tmp_path):
    # Each event line is put together in C and written with one write() to
    # an O_APPEND fd: 8 threads writing long lines at once never mix them.
    result = run_app("""
        import threading
        import pyqtguard
        from pyqtguard import logs as logfile
        pyqtguard.install()
        def chatter(n):
            for i in range(200):
                logfile.log_event(f"worker {n} line {i} " + str(n) * 3000)
        threads = [threading.Thread(target=chatter, args=(n,)) for n in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        logfile.log_event("odd \\udcff text")        # a lone surrogate: never raises
        print("done", flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    lines = [line for line in result.log.splitlines() if " worker " in line]
    assert len(lines) == 8 * 200
    for line in lines:
        n = line.split(" worker ")[1].split()[0]
        assert line.endswith(" " + n * 3000), line[:80]
        assert line.startswith("[") and " UTC] " in line
    assert "odd" in result.log



def test_a_full_folder_is_pruned_to_the_newest_runs(tmp_path):
    # Thirty older runs planted; the app exits right after install().  The
    # deletions run in a thread of the C core's (the exit waits for it).
    log_dir = tmp_path / "logs"
    log_dir.mkdir(mode=0o700)
    for i in range(30):
        (log_dir / f"pyqtguard-20200101-0000{i:02d}000-1-0.log").write_text("old\n")
    result = run_app("""
        import pyqtguard
        pyqtguard.install(keep_logs=3)
        print("log:", pyqtguard.log_path(), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    names = sorted(p.name for p in log_dir.glob("pyqtguard-*.log"))
    assert len(names) == 3, names
    assert names[:2] == ["pyqtguard-20200101-000028000-1-0.log",
                         "pyqtguard-20200101-000029000-1-0.log"]
    assert f"log: {log_dir}" in result.stdout


def test_unlink_in_background_deletes_and_rejects_bad_input(tmp_path):
    from pyqtguard import _native

    files = [tmp_path / f"f{i}" for i in range(3)]
    for f in files:
        f.write_text("x")
    with pytest.raises(TypeError):
        _native.unlink_in_background(tuple(map(str, files)))
    assert _native.unlink_in_background([str(f) for f in files]) is True
    deadline = time.monotonic() + 5
    while any(f.exists() for f in files) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(f.exists() for f in files)
    # A name too long for the C side's buffer: the caller is told to do it.
    assert _native.unlink_in_background([str(tmp_path / ("x" * 200))] * 100) is False
