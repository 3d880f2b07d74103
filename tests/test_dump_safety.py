"""`pyqtguard dump` never signals a process that is not a guarded app waiting
for it (issue 18, item 1): SIGUSR1's default action ends a process, so every
refusal below is checked by the target still being alive afterwards."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apprunner import child_env

REFUSED = 2
CANARY = "import time; print('ready', flush=True); time.sleep(60)"


def start(source: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """A long-running process in a session of its own; returns once it is ready."""
    proc = subprocess.Popen([sys.executable, "-c", source], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def dump(env: dict[str, str], *args: str, isolated: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `pyqtguard dump ARGS` in a session of its own.  *isolated*: in a
    PID namespace of its own - a dump that goes wrong with `-1` signals
    every process its user may (as root: the machine)."""
    cmd = [sys.executable, "-m", "pyqtguard", "dump", *args]
    if isolated:
        if shutil.which("unshare") is None:
            pytest.skip("needs unshare(1) to run `dump -1` safely")
        cmd = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc", *cmd]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30,
                            start_new_session=True, cwd="/")
    if isolated and result.stderr.startswith("unshare: "):
        # unshare(1) itself failed: no user namespaces here (a chroot, a
        # container that forbids them); the dump never ran.
        pytest.skip(f"`dump -1` needs a PID namespace: {result.stderr.strip()}")
    return result


def alive(proc: subprocess.Popen[str]) -> bool:
    time.sleep(0.2)                      # a signal sent is delivered by now
    return proc.poll() is None


@pytest.fixture
def env(tmp_path):
    return child_env(tmp_path / "logs")


@pytest.fixture
def canary(env, tmp_path):
    proc = start(CANARY, env, tmp_path)
    yield proc
    proc.kill()
    proc.wait()


def guarded_app(options: str = "", before: str = "", after: str = "") -> str:
    return (f"import time\n{before}\nimport pyqtguard\npyqtguard.install({options})\n"
            f"{after}\nprint('ready', flush=True)\ntime.sleep(60)\n")


@pytest.fixture
def run_guarded(env, tmp_path):
    started = []

    def run(options: str = "", before: str = "", after: str = "",
            extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = start(guarded_app(options, before, after), {**env, **(extra_env or {})},
                     tmp_path)
        started.append(proc)
        return proc
    yield run
    for proc in started:
        proc.kill()
        proc.wait()


# ---- PIDs that name more than one process --------------------------------------

def test_dump_minus_one_is_refused(env, canary):
    result = dump(env, "-1", isolated=True)
    assert result.returncode == REFUSED, result
    assert "must be > 0" in result.stderr
    assert alive(canary)


def test_dump_zero_is_refused_and_does_not_signal_its_own_group(env):
    result = dump(env, "0")
    assert result.returncode == REFUSED, result      # not -10: it signalled itself
    assert "must be > 0" in result.stderr


def test_dump_of_a_process_group_is_refused(env, canary):
    result = dump(env, str(-os.getpgid(canary.pid)))
    assert result.returncode == REFUSED, result
    assert "must be > 0" in result.stderr
    assert alive(canary)


# ---- processes that are not a guarded app waiting for the signal ---------------

def test_an_unguarded_process_is_not_signalled(env, canary):
    result = dump(env, str(canary.pid))
    assert result.returncode == REFUSED, result
    assert "not a pyqtguard app waiting for a dump signal" in result.stderr
    assert "nothing sent" in result.stderr
    assert alive(canary)


@pytest.mark.parametrize("case", ["dump_signal=None", "uninstall", "PYQTGUARD_DISABLE"])
def test_a_guarded_app_without_an_armed_dump_handler_is_not_signalled(env, run_guarded, case):
    if case == "dump_signal=None":
        app = run_guarded("dump_signal=None")
    elif case == "uninstall":
        app = run_guarded(after="pyqtguard.uninstall()")
    else:
        app = run_guarded(extra_env={"PYQTGUARD_DISABLE": "1"})
    result = dump(env, str(app.pid))
    assert result.returncode == REFUSED, (case, result)
    assert "nothing sent" in result.stderr
    assert alive(app), case


def test_a_reused_pid_matching_an_old_run_log_is_not_signalled(env, tmp_path, canary):
    # An earlier guarded run had this PID: its log and runtime file are still
    # there, but the process now under that PID started at another time.
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    stem = f"pyqtguard-20260101-000000000-{canary.pid}-0"
    (logs / f"{stem}.log").write_text(f"pyqtguard 0.1.0 run log\npid: {canary.pid}\n\n")
    runtime = logs / f"{stem}.dump"
    runtime.write_text(f"pyqtguard dump target 1\npid: {canary.pid}\nstart: 1\nsignal: 10\n")
    runtime.chmod(0o600)
    result = dump(env, str(canary.pid))
    assert result.returncode == REFUSED, result
    assert "PID was reused" in result.stderr
    assert alive(canary)


def _forge(tmp_path: Path, pid: int, start: str | None = None) -> Path:
    from pyqtguard.watchdog import dumptarget as _dumptarget

    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    stem = f"pyqtguard-20260101-000000000-{pid}-0"
    (logs / f"{stem}.log").write_text("forged\n")
    path = logs / f"{stem}.dump"
    start = start or _dumptarget.start_time_of(pid)
    path.write_text(f"pyqtguard dump target 1\npid: {pid}\nstart: {start}\nsignal: 10\n")
    path.chmod(0o600)
    return path


def test_a_forged_runtime_file_for_a_process_that_does_not_catch_the_signal(env, tmp_path,
                                                                              canary):
    _forge(tmp_path, canary.pid)
    result = dump(env, str(canary.pid))
    assert result.returncode == REFUSED, result
    assert "does not catch signal 10" in result.stderr
    assert alive(canary)


def test_a_forged_runtime_file_for_a_process_without_pyqtguard(env, tmp_path):
    # It catches SIGUSR1 (its own handler), but it is not a pyqtguard app:
    # its handler must not run.
    proc = start("import signal, time\n"
                 "signal.signal(signal.SIGUSR1, lambda *a: print('signalled', flush=True))\n"
                 "print('ready', flush=True)\n"
                 "time.sleep(3)\n", env, tmp_path)
    try:
        _forge(tmp_path, proc.pid)
        result = dump(env, str(proc.pid))
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert result.returncode == REFUSED, result
    assert "pyqtguard is not loaded" in result.stderr
    assert "signalled" not in out


@pytest.mark.parametrize("kind", ["fifo", "huge", "symlink", "world-writable", "garbage"])
def test_hostile_runtime_files_are_refused_without_blocking(env, tmp_path, canary, kind):
    path = _forge(tmp_path, canary.pid)
    good = path.read_text()
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "huge":
        path.write_text(good + "x" * 10_000_000)
    elif kind == "symlink":
        real = tmp_path / "elsewhere"
        real.write_text(good)
        real.chmod(0o600)
        path.symlink_to(real)
    elif kind == "world-writable":
        path.write_text(good)
        path.chmod(0o666)
    else:
        path.write_text(good.replace("signal: 10", "signal: 10\nsignal: 9"))
        path.chmod(0o600)
    result = dump(env, str(canary.pid))
    assert result.returncode == REFUSED, (kind, result)
    assert "nothing sent" in result.stderr
    assert alive(canary)


# ---- which signal --------------------------------------------------------------

@pytest.mark.parametrize("name", ["9", "KILL", "SIGTERM", "stop", "INT", "SEGV"])
def test_fatal_and_control_signals_are_refused(env, run_guarded, name):
    app = run_guarded()
    result = dump(env, str(app.pid), "--signal", name)
    assert result.returncode == REFUSED, (name, result)
    assert "only a dump signal" in result.stderr
    assert alive(app)


def test_only_the_apps_configured_dump_signal_is_sent(env, run_guarded):
    app = run_guarded()                                    # SIGUSR1
    result = dump(env, str(app.pid), "--signal", "USR2")
    assert result.returncode == REFUSED, result
    assert "SIGUSR1" in result.stderr and "nothing sent" in result.stderr
    assert alive(app)


@pytest.mark.parametrize("name", ["USR2", "SIGUSR2", "usr2", str(int(signal.SIGUSR2))])
def test_signal_names_are_accepted(env, run_guarded, name):
    app = run_guarded("dump_signal=signal.SIGUSR2", before="import signal")
    result = dump(env, str(app.pid), "--signal", name)
    assert result.returncode == 0, (name, result)
    assert "=== pyqtguard thread dump ===" in result.stdout
    assert alive(app)


def test_dump_shows_the_main_threads_age(env, run_guarded):
    app = run_guarded(after="time.sleep(2)")
    result = dump(env, str(app.pid))
    assert result.returncode == 0, result
    row = next(line for line in result.stdout.splitlines() if line.startswith("MainThread"))
    age = float(row.split()[4].rstrip("s"))
    assert age >= 2.0, row                  # it slept 2 s before saying ready


# ---- the runtime file's life ------------------------------------------------------

def test_runtime_file_follows_the_armed_handler_and_its_run_log(tmp_path):
    from apprunner import run_app

    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    for i in range(5):
        for suffix in (".log", ".dump"):
            (logs / f"pyqtguard-20200101-0000{i:02d}000-1-0{suffix}").write_text("old\n")
    result = run_app("""
        import glob, os
        import pyqtguard
        pyqtguard.install(keep_logs=3)
        own = pyqtguard.log_path().with_suffix(".dump")
        print("armed:", own.read_text().splitlines()[3], oct(own.stat().st_mode & 0o777))
        pyqtguard.uninstall()
        print("after uninstall:", own.exists(), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "armed: signal: 10 0o600" in result.stdout
    assert "after uninstall: False" in result.stdout
    left = sorted(p.name for p in logs.iterdir() if p.name.startswith("pyqtguard-2020"))
    assert left == ["pyqtguard-20200101-000003000-1-0.dump", "pyqtguard-20200101-000003000-1-0.log",
                    "pyqtguard-20200101-000004000-1-0.dump", "pyqtguard-20200101-000004000-1-0.log"]
