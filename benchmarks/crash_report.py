"""Time from a fault to the complete crash report, with 200 live Python
threads: pyqtguard against the stdlib faulthandler alone, in the same run.

Each run is a child process that starts 200 threads parked in a function,
then prints CLOCK_MONOTONIC (system-wide on Linux) and segfaults.  The
parent stops the clock when the child is gone, i.e. when the handler has
written everything and re-raised.  Reported: medians, and their ratio
(target: within 1.5x of faulthandler, and under 100 ms).

Note: faulthandler writes at most 100 threads; pyqtguard writes all 200,
each under its name, plus the native stack and the thread legend.

    python benchmarks/crash_report.py [--runs 15]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import ctypes, sys, threading, time
mode = sys.argv[1]
if mode == "faulthandler":
    import faulthandler
    log = open(sys.argv[2], "w")
    faulthandler.enable(file=log, all_threads=True)
else:
    import pyqtguard
    pyqtguard.install(log_dir=sys.argv[2], stderr="--no-stderr" not in sys.argv)
ready = threading.Barrier(201)
def parked_worker(depth=3):
    if depth:
        return parked_worker(depth - 1)
    ready.wait()
    time.sleep(60)
for i in range(200):
    threading.Thread(target=parked_worker, name=f"worker-{i}", daemon=True).start()
ready.wait()
time.sleep(0.05)
print(time.monotonic_ns(), flush=True)
ctypes.string_at(0)
"""


def one_run(mode: str, folder: str, env: dict[str, str]) -> float:
    target = os.path.join(folder, "fh.log") if mode == "faulthandler" else folder
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode, target], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    proc.wait()
    end = time.monotonic_ns()
    if proc.returncode != -11:
        raise SystemExit(f"{mode}: child exited with {proc.returncode}")
    return (end - int(line)) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    import pyqtguard

    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pyqtguard.__file__)))
    env.pop("PYTHONFAULTHANDLER", None)
    times: dict[str, list[float]] = {"faulthandler": [], "pyqtguard": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.runs):
            for mode in times:  # interleaved: both see the same machine load
                with tempfile.TemporaryDirectory(dir=folder) as run_folder:
                    times[mode].append(one_run(mode, run_folder, env))
    fh = statistics.median(times["faulthandler"])
    ours = statistics.median(times["pyqtguard"])
    print(f"fault to complete report, 200 threads, median of {args.runs} runs:")
    print(f"  faulthandler alone: {fh:7.1f} ms")
    print(f"  pyqtguard:          {ours:7.1f} ms")
    print(f"  ratio pyqtguard / faulthandler: {ours / fh:.2f} (target <= 1.5; "
          f"absolute target < 100 ms)")


if __name__ == "__main__":
    main()
