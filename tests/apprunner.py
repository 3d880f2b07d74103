"""Run a small app in a subprocess and read what it left in its log.

The model is CPython's test_faulthandler: the buggy app runs in a child
process with a timeout, and the test asserts on its exit status, its output
and the run log it wrote.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
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
        """Run logs written, oldest first (multiprocessing workers' own
        logs, ``pyqtguard-worker-...``, included)."""
        from pyqtguard.logs.folder import run_logs

        return run_logs(self.log_dir, workers=True)

    @property
    def log(self) -> str:
        """Text of the newest run log ('' if none)."""
        logs = self.logs
        return logs[-1].read_text(errors="replace") if logs else ""

    def describe(self) -> str:
        return (f"exit status {self.returncode}\n--- stdout ---\n{self.stdout}"
                f"\n--- stderr ---\n{self.stderr}\n--- log ---\n{self.log}")


# The first lines of an app whose stderr is a pipe nobody reads, full: its
# next blocking write() there never returns (a parent that waits for the
# exit before it reads).  Linux's pipes and fcntl.
STDERR_A_FULL_PIPE = """
import fcntl, os
read_end, write_end = os.pipe()     # read_end kept open, never read
os.dup2(write_end, 2)
fl = fcntl.fcntl(2, fcntl.F_GETFL)
fcntl.fcntl(2, fcntl.F_SETFL, fl | os.O_NONBLOCK)
for size in (65536, 4096, 1):
    try:
        while True:
            os.write(2, b"x" * size)
    except BlockingIOError:
        pass
fcntl.fcntl(2, fcntl.F_SETFL, fl)   # full: the next write() blocks
"""


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


def newest_run(log_dir: Path) -> dict[str, object]:
    """`pyqtguard logs --json`'s line for the newest run in *log_dir* (the
    command must succeed)."""
    cli = subprocess.run([sys.executable, "-m", "pyqtguard", "logs", "--json",
                          "--log-dir", str(log_dir)],
                         capture_output=True, text=True, timeout=60, env=child_env(log_dir))
    assert cli.returncode == 0, cli.stderr
    return json.loads(cli.stdout)[0]


def build_shared_library(tmp_path: Path, name: str, source: str, *,
                         required: bool = False, why: str = "") -> str:
    """``lib<name>.so`` built from the C *source* with the system's C
    compiler (-O0, -fPIC, Python's headers on the include path, pthreads);
    returns its path.  No compiler: the test is skipped (*why* says what it
    builds), or fails when *required*."""
    import shutil
    import sysconfig

    import pytest

    for compiler in (sysconfig.get_config_var("CC") or "", "cc", "gcc"):
        compiler = compiler.split()[0] if compiler else ""
        if compiler and shutil.which(compiler):
            break
    else:
        message = "no C compiler on PATH" + (f": {why}" if why else "")
        if required:
            pytest.fail(message)
        pytest.skip(message)
    c_file = tmp_path / f"{name}.c"
    c_file.write_text(source)
    lib = tmp_path / f"lib{name}.so"
    include = sysconfig.get_paths()["include"]
    subprocess.run([compiler, "-shared", "-fPIC", "-O0", f"-I{include}", "-o", str(lib),
                    str(c_file), "-lpthread"], check=True, capture_output=True, timeout=120)
    return str(lib)


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


# ---- an app that keeps running while the test talks to it (signals) ----------

started: list[subprocess.Popen[str]] = []        # killed by kill_started()
_END = object()                                  # the app's stdout closed


def launch(script: Path, tmp_path: Path) -> subprocess.Popen[str]:
    """Start *script* (logs to tmp_path/"logs"); read its output with
    :func:`next_line`, end with :func:`finish`."""
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path,
                            env=child_env(tmp_path / "logs"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    started.append(proc)
    lines: queue.Queue[object] = queue.Queue()
    proc.lines = lines                          # type: ignore[attr-defined]
    threading.Thread(target=_pump, args=(proc, lines), daemon=True).start()
    return proc


def kill_started() -> None:
    """Kill what launch() started and is still running (a test's teardown)."""
    while started:
        proc = started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _pump(proc: subprocess.Popen[str], lines: queue.Queue[object]) -> None:
    for line in proc.stdout:                    # type: ignore[union-attr]
        lines.put(line)
    lines.put(_END)


def next_line(proc: subprocess.Popen[str], timeout: float = 15) -> str | None:
    """The app's next line of output, stripped (None: stdout ended, or no line
    within *timeout*).  A blank line is "", not the end."""
    try:
        line = proc.lines.get(timeout=timeout)  # type: ignore[attr-defined]
    except queue.Empty:
        return None
    return None if line is _END else str(line).strip()


def finish(proc: subprocess.Popen[str], timeout: float = 15) -> tuple[int | None, str, str]:
    """Exit status (None: still running after *timeout*, then killed), stdout, stderr."""
    try:
        proc.wait(timeout=timeout)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        status = None
    out = []
    while (line := next_line(proc, 5)) is not None:
        out.append(line)
    return status, "\n".join(out), proc.stderr.read()     # type: ignore[union-attr]


def run_log(tmp_path: Path) -> str:
    """Text of the newest run log in tmp_path/"logs" ('' if none)."""
    logs = sorted((tmp_path / "logs").glob("pyqtguard-*.log"))
    return logs[-1].read_text(errors="replace") if logs else ""


def send_kept_reports(port: int, tmp_path: Path, wait: float = 15) -> AppResult:
    """A next start of an ``auto_send`` app reporting to 127.0.0.1:*port*,
    which sends the reports an earlier run kept and prints ``idle: True``
    once the sender is done."""
    return run_app(f"""
        import pyqtguard
        pyqtguard.install(report_to="http://k@127.0.0.1:{port}/7", auto_send=True)
        from pyqtguard.reporting import sender
        print("idle:", sender.wait_idle({wait}))
    """, tmp_path)
