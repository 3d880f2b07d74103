"""Stress: an exception flood right before exit, many times over (issue 18.3).

Runs the test suite's FLOOD_APP (500 exceptions raised in a slot, then a short
event loop, then exit) with ``PYQTGUARD_REPEAT_INTERVAL=0`` - every one of the
500 gets a full report - and checks each run: exit status 0 (no crash) and
500/500 reports in the run log.

    python tests/stress/flood_at_exit.py            # 200 runs
    python tests/stress/flood_at_exit.py -n 20      # fewer
    python tests/stress/flood_at_exit.py --python /path/to/python3.12

Prints ``tried N, held N`` (and each failing run) and exits 1 if any run
failed.  About 1 s a run on an idle 2-core machine.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from apprunner import child_env  # noqa: E402
from test_exception_repeats import flood_source  # noqa: E402

REPORT_LINE = "AttributeError: 'Model' object has no attribute 'rows'"
EXPECTED = 500


def one_run(python: str, workdir: Path) -> tuple[int, int, str]:
    """(exit status, full reports in the log, log tail) of one flood run."""
    script = workdir / "app.py"
    script.write_text(textwrap.dedent(flood_source()))
    log_dir = workdir / "logs"
    env = child_env(log_dir, {"PYQTGUARD_REPEAT_INTERVAL": "0"})
    proc = subprocess.run([python, str(script)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=120, errors="replace")
    logs = sorted(log_dir.glob("*.log"), key=lambda p: p.stat().st_mtime) if log_dir.is_dir() else []
    text = logs[-1].read_text(errors="replace") if logs else ""
    return proc.returncode, text.count(REPORT_LINE), text[-600:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=200)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    held = 0
    started = time.monotonic()
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="pqg-flood-") as tmp:
            status, reports, tail = one_run(args.python, Path(tmp))
        if status == 0 and reports == EXPECTED:
            held += 1
        else:
            print(f"run {run}: exit status {status}, {reports}/{EXPECTED} reports\n{tail}",
                  flush=True)
    elapsed = time.monotonic() - started
    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    print(f"flood at exit (CPython {version}): tried {args.runs}, held {held} "
          f"({elapsed:.0f} s)", flush=True)
    return 0 if held == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
