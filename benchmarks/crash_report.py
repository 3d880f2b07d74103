"""Time from a fault to the complete crash report, with many live Python
threads: pyqtguard against the stdlib faulthandler alone, in the same run.

Each run is a child process that starts N threads parked in a function,
then prints CLOCK_MONOTONIC (system-wide on Linux) and segfaults.  The
parent stops the clock when the child is gone, i.e. when the handler has
written everything and re-raised.

Two measurements, runs of both tools interleaved (same machine load):

- parked: the threads sleep when the fault comes.  Reported: medians,
  their ratio with a 95% interval (target: within 1.5x of faulthandler) and
  how many thread stacks each wrote (faulthandler stops at 100).
- runnable (the tail): the threads are woken all at once by a barrier just
  before the fault (then go back to sleep), so most of them are runnable,
  waiting for the GIL, while the report is written.  Reported: max and how many runs took over 100 ms
  (target: none in 200 runs).

    python benchmarks/crash_report.py                 # 1,000 threads, 15 + 200 runs
    python benchmarks/crash_report.py --threads 200 --runs 15 --tail-runs 0
    python benchmarks/crash_report.py --short         # CI: checks it runs
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio import ratio_line  # noqa: E402

CHILD = r"""
import ctypes, sys, threading, time
mode, target, count, wake = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
if mode == "faulthandler":
    import faulthandler
    log = open(target, "w")
    faulthandler.enable(file=log, all_threads=True)
else:
    import pyqtguard
    pyqtguard.install(log_dir=target, stderr=False)
ready = threading.Barrier(count + 1)
go = threading.Barrier(count + 1)
def parked_worker(depth=3):
    if depth:
        return parked_worker(depth - 1)
    ready.wait()
    if wake:
        go.wait()            # woken: runnable, each wants the GIL to go on
    time.sleep(60)
threading.stack_size(256 * 1024)
for i in range(count):
    threading.Thread(target=parked_worker, name=f"worker-{i}", daemon=True).start()
ready.wait()
time.sleep(0.05)
crash = ctypes.PyDLL(sys.argv[5]).stamp_and_crash if len(sys.argv) > 5 else None
if wake:
    go.wait()                # all of them wake up now
if crash is not None:
    crash(1)                 # one C call, GIL held: the clock read, then the fault
print(time.monotonic_ns(), flush=True)
ctypes.string_at(0)
"""

# Printing the time, then faulting, lets the GIL go in between (the write):
# with 1,000 woken threads the main thread may wait long to get it back, and
# that wait would be counted as the report's.  Where there is a C compiler,
# the child reads the clock and faults in one C call instead.
HELPER = r"""
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
void stamp_and_crash(int fd)
{
    struct timespec now;
    char line[32];
    clock_gettime(CLOCK_MONOTONIC, &now);
    int n = snprintf(line, sizeof(line), "%lld\n",
                     (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    (void)!write(fd, line, (size_t)n);
    *(volatile int *)0 = 0;
}
"""


def build_helper(folder: str) -> str | None:
    """The stamp-and-crash library, or None without a C compiler."""
    import shutil
    import sysconfig

    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return None
    source = os.path.join(folder, "stamp.c")
    library = os.path.join(folder, "libstamp.so")
    with open(source, "w") as out:
        out.write(HELPER)
    done = subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", library, source],
                          capture_output=True)
    return library if done.returncode == 0 else None

_PQG_HEADING = re.compile(r"^(?:Current thread|Thread) '", re.M)
_FH_HEADING = re.compile(r"^(?:Current thread|Thread) 0x", re.M)


def _stacks_written(mode: str, target: str) -> int:
    """Thread stacks in the run's log (faulthandler: its one file)."""
    if mode == "faulthandler":
        with open(target, errors="replace") as stream:
            return len(_FH_HEADING.findall(stream.read()))
    logs = [os.path.join(target, n) for n in os.listdir(target) if n.endswith(".log")]
    text = "".join(open(p, errors="replace").read() for p in logs)
    # 3.13+: faulthandler writes the Python stacks into pyqtguard's log.
    return len(_PQG_HEADING.findall(text)) + len(_FH_HEADING.findall(text))


def one_run(mode: str, folder: str, env: dict[str, str], threads: int,
            wake: bool, helper: str | None) -> tuple[float, int]:
    """(milliseconds from the fault to the child's end, stacks written)."""
    target = os.path.join(folder, "fh.log") if mode == "faulthandler" else folder
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode, target, str(threads),
                             "1" if wake else "0", *([helper] if helper else [])],
                            env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    proc.wait()
    end = time.monotonic_ns()
    if proc.returncode != -11 or not line.strip():
        raise SystemExit(f"{mode}: child exited with {proc.returncode}")
    return (end - int(line)) / 1e6, _stacks_written(mode, target)


def measure(runs: int, threads: int, wake: bool, env: dict[str, str]
            ) -> dict[str, tuple[list[float], list[int]]]:
    times: dict[str, tuple[list[float], list[int]]] = {
        "faulthandler": ([], []), "pyqtguard": ([], [])}
    with tempfile.TemporaryDirectory() as folder:
        helper = build_helper(folder)
        for _ in range(runs):
            for mode, (ms, stacks) in times.items():  # interleaved
                with tempfile.TemporaryDirectory(dir=folder) as run_folder:
                    took, written = one_run(mode, run_folder, env, threads, wake, helper)
                ms.append(took)
                stacks.append(written)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15, help="parked runs of each")
    parser.add_argument("--tail-runs", type=int, default=200,
                        help="runs of each with the threads runnable (0: skip)")
    parser.add_argument("--short", action="store_true",
                        help="CI: 100 threads, 3 + 3 runs (checks it runs, not the ratio)")
    args = parser.parse_args()
    if args.short:
        args.threads, args.runs, args.tail_runs = 100, 3, 3
    import pyqtguard

    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pyqtguard.__file__)))
    env.pop("PYTHONFAULTHANDLER", None)
    print(f"fault to complete report, {args.threads} live Python threads "
          f"(Python {sys.version.split()[0]}):")
    with tempfile.TemporaryDirectory() as folder:
        if build_helper(folder) is None:
            print("  (no C compiler: the clock starts before the GIL is taken back; "
                  "with woken threads that wait is counted too)")
    if args.runs:
        times = measure(args.runs, args.threads, False, env)
        (fh, fh_stacks), (ours, our_stacks) = times["faulthandler"], times["pyqtguard"]
        print(f"  parked threads, median of {args.runs} runs each:")
        print(f"    faulthandler alone: {statistics.median(fh):7.1f} ms, "
              f"{max(fh_stacks)} thread stacks written")
        print(f"    pyqtguard:          {statistics.median(ours):7.1f} ms, "
              f"{max(our_stacks)} thread stacks written (with names, native stack, legend)")
        print(f"    {ratio_line(fh, ours, target=1.5)}")
    if args.tail_runs:
        times = measure(args.tail_runs, args.threads, True, env)
        print(f"  runnable threads (woken by a barrier just before the fault), "
              f"{args.tail_runs} runs each:")
        for mode, (ms, stacks) in times.items():
            over = sum(1 for t in ms if t > 100)
            print(f"    {mode + ':':20s}max {max(ms):7.1f} ms, median "
                  f"{statistics.median(ms):6.1f} ms, {over} runs over 100 ms, "
                  f"{min(stacks)}-{max(stacks)} stacks")


if __name__ == "__main__":
    main()
