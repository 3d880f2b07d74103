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
            python_args: list[str] | None = None) -> AppResult:
    """Write *source* (dedented) to tmp_path/script_name and run it.

    under_run=True runs it as ``python -m pyqtguard run app.py`` (the app
    itself then need not import pyqtguard).  Logs go to tmp_path/"logs".
    """
    script = tmp_path / script_name
    script.write_text(textwrap.dedent(source))
    log_dir = tmp_path / "logs"
    cmd = [sys.executable, *(python_args or [])]
    if under_run:
        cmd += ["-m", "pyqtguard", "run"]
    cmd += [str(script), *(args or [])]
    proc = subprocess.run(cmd, cwd=tmp_path, env=child_env(log_dir, env),
                          capture_output=True, text=True, timeout=timeout,
                          errors="replace")
    return AppResult(proc.returncode, proc.stdout, proc.stderr, log_dir)
