"""Run a small app in a subprocess and read what it left in its log.

The model is CPython's test_faulthandler: the buggy app runs in a child
process with a timeout, and the test asserts on its exit status, its output
and the run log it wrote.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class AppResult:
    returncode: int
    stdout: str
    stderr: str
    log_dir: Path

    @property
    def logs(self) -> list[Path]:
        """Run logs written, oldest first."""
        from pyqtguard.logs.folder import run_logs

        return run_logs(self.log_dir)

    @property
    def log(self) -> str:
        """Text of the newest run log ('' if none)."""
        logs = self.logs
        return logs[-1].read_text(errors="replace") if logs else ""

    def describe(self) -> str:
        return (f"exit status {self.returncode}\n--- stdout ---\n{self.stdout}"
                f"\n--- stderr ---\n{self.stderr}\n--- log ---\n{self.log}")


def child_env(log_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYQTGUARD_LOG_DIR"] = str(log_dir)
    env["PYTHONFAULTHANDLER"] = ""
    env.pop("PYQTGUARD_DISABLE", None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    if extra:
        env.update(extra)
    return env


def run_app(source: str, tmp_path: Path, *, timeout: float = 60,
            args: list[str] | None = None, under_run: bool = False,
            env: dict[str, str] | None = None, script_name: str = "app.py",
            python_args: list[str] | None = None, kill_group: bool = False) -> AppResult:
    """Write *source* (dedented) to tmp_path/script_name and run it.

    under_run=True runs it as ``python -m pyqtguard run app.py`` (the app
    itself then need not import pyqtguard).  Logs go to tmp_path/"logs".
    kill_group=True runs it in a session of its own and kills what is left
    of it afterwards (a fork bomb's orphans outlive the app on a timeout).
    """
    script = tmp_path / script_name
    script.write_text(textwrap.dedent(source))
    log_dir = tmp_path / "logs"
    cmd = [sys.executable, *(python_args or [])]
    if under_run:
        cmd += ["-m", "pyqtguard", "run"]
    cmd += [str(script), *(args or [])]
    if kill_group:
        return _run_in_group(cmd, tmp_path, child_env(log_dir, env), timeout, log_dir)
    proc = subprocess.run(cmd, cwd=tmp_path, env=child_env(log_dir, env),
                          capture_output=True, text=True, timeout=timeout,
                          errors="replace")
    return AppResult(proc.returncode, proc.stdout, proc.stderr, log_dir)


def run_in_group(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float,
                 stdin: object = None) -> subprocess.CompletedProcess:
    """subprocess.run in a new session; whatever is left of the session
    (stray children, or all of it on a timeout) is killed afterwards."""
    import signal

    with subprocess.Popen(cmd, cwd=cwd, env=env, stdin=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, errors="replace",
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc.pid, signal)
            proc.communicate()
            raise exc from None
        finally:
            _kill_group(proc.pid, signal)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def _kill_group(pgid: int, signal: object) -> None:
    for sig in (signal.SIGSTOP, signal.SIGKILL):   # type: ignore[attr-defined]
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return


def _run_in_group(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float,
                  log_dir: Path) -> AppResult:
    proc = run_in_group(cmd, cwd, env, timeout)
    return AppResult(proc.returncode, proc.stdout, proc.stderr, log_dir)
