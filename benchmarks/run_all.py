"""Run every benchmark, one after the other, and say which failed to run.

    QT_QPA_PLATFORM=offscreen python benchmarks/run_all.py           # the real figures (~25 min)
    QT_QPA_PLATFORM=offscreen python benchmarks/run_all.py --short   # CI: they run (~1 min)

``--short`` runs each with a handful of runs: it checks that they still run
and print their figures, not the figures (which take minutes to be
trustworthy on a loaded machine; see README.md).  Exit status 1 if any
benchmark failed or printed no ratio.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (script, arguments for --short, arguments for the full run)
BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    ("startup.py", ["--runs", "3"], ["--instructions"]),
    ("startup.py", ["--breakdown", "--runs", "2"], ["--breakdown", "--runs", "400"]),
    ("shutdown.py", ["--runs", "3"], ["--instructions"]),
    ("check.py", ["--runs", "2", "--files", "30"], []),
    ("workers.py", ["--tasks", "300", "--runs", "2", "--memory-tasks", "1000"], []),
    ("crash_report.py", ["--short"], []),
    ("exception_reports.py", ["--short"], []),
    ("dialogs.py", ["--runs", "3", "--flood", "100"], []),
    ("pytest_plugin.py", ["--short"], []),
    ("freeze_idle.py", ["--seconds", "1"], []),
    ("registry.py", ["--threads", "200", "--runs", "2", "--memory-threads", "1000"], []),
    ("qthreads.py", ["--cycles", "50", "--runs", "2"], ["--instructions"]),
    ("thread_altstack.py", ["--threads", "50", "--rounds", "3"], []),
    ("wrong_thread.py", ["--rounds", "1", "--calls", "20000"], []),
]


def run(script: str, args: list[str], timeout: float) -> tuple[bool, str]:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    try:
        result = subprocess.run([sys.executable, os.path.join(HERE, script), *args],
                                env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:g} s"
    output = result.stdout + result.stderr
    if result.returncode != 0:
        return False, output
    if not re.search(r"ratio|ms|kB", result.stdout):
        return False, "no figures printed:\n" + output
    return True, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", action="store_true",
                        help="a few runs each: check they run, not their figures")
    args = parser.parse_args()
    failed = []
    for script, short_args, full_args in BENCHMARKS:
        start = time.monotonic()
        arguments = short_args if args.short else full_args
        ok, output = run(script, arguments, timeout=300 if args.short else 3600)
        name = " ".join([script, *(a for a in arguments if a.startswith("--breakdown"))])
        print(f"=== {name} ({time.monotonic() - start:.0f} s): {'ok' if ok else 'FAILED'}")
        print(output.rstrip(), flush=True)
        if not ok:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
