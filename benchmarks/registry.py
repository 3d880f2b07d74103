"""Cost of the thread registry per thread start/stop, and memory after
100,000 threads.

Each variant runs in a fresh interpreter: N threads that do nothing are
started and joined one after another (the registry's work is all at start
and end: the start site, the name in the C table, and its removal).  The
figure is the ratio of the per-thread times (target: at most 1.10).  Then
100,000 threads run through the registry and the resident memory and the C
table's occupancy are printed at 0, 50,000 and 100,000: flat.

    python benchmarks/registry.py [--threads 2000] [--runs 40]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

from ratio import ratio_line

CHILD = r"""
import sys, threading, time
if sys.argv[1] == "guarded":
    import pyqtguard
    pyqtguard.install(log_dir=sys.argv[3])
n = int(sys.argv[2])
def nothing():
    pass
for _ in range(200):                       # warm-up
    t = threading.Thread(target=nothing); t.start(); t.join()
start = time.perf_counter()
for _ in range(n):
    t = threading.Thread(target=nothing); t.start(); t.join()
print((time.perf_counter() - start) / n * 1e6)
"""

MEMORY = r"""
import sys, threading, resource
import pyqtguard
from pyqtguard import _native
pyqtguard.install(log_dir=sys.argv[1])
def nothing():
    pass
def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4
total = int(sys.argv[2])
step = total // 10
for done in range(0, total + 1, step):
    if done in (step, 5 * step, 10 * step):
        stats = _native.thread_table_stats()
        print(f"  after {done:>7,} threads: RSS {rss_kb():>7,} kB, table live "
              f"{stats['live']}, high water {stats['high_water']}, "
              f"registry {len(pyqtguard.threads())} threads")
    for _ in range(step):
        t = threading.Thread(target=nothing); t.start(); t.join()
"""


def per_thread_us(mode: str, n: int, logs: str, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(n), logs], env=env,
                         capture_output=True, text=True, check=True).stdout
    return float(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    # Many short runs, interleaved: on a VM whose speed drifts by 20% from
    # one second to the next, that beats a few long ones.
    parser.add_argument("--threads", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--memory-threads", type=int, default=100_000,
                        help="threads for the memory check (100,000; fewer: a smoke test)")
    args = parser.parse_args()
    import pyqtguard

    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pyqtguard.__file__)))
    with tempfile.TemporaryDirectory() as logs:
        times: dict[str, list[float]] = {"plain": [], "guarded": []}
        for _ in range(args.runs):
            for mode in times:
                times[mode].append(per_thread_us(mode, args.threads, logs, env))
        plain = statistics.median(times["plain"])
        guarded = statistics.median(times["guarded"])
        print(f"thread start+join, {args.threads:,} threads, median of {args.runs} runs:")
        print(f"  without pyqtguard: {plain:6.1f} us per thread")
        print(f"  with the registry: {guarded:6.1f} us per thread")
        print("  " + ratio_line(times["plain"], times["guarded"], target=1.10))
        print(f"memory across {args.memory_threads:,} threads (flat):", flush=True)
        subprocess.run([sys.executable, "-c", MEMORY, logs, str(max(10, args.memory_threads))],
                       env=env, check=True)


if __name__ == "__main__":
    main()
