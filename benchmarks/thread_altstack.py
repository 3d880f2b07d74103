"""Cost of the per-thread alternate signal stack at thread start and end.

pyqtguard is installed (thread registry, crash handler); the threads either
get their alternate signal stack (the default) or not
(``_native.altstack_for_new_threads(False)``): the ratio is the alternate
stack's own cost.  Blocks of N threads, each started and joined one after
another, alternate between the two settings in one process (a fresh random
order each round), so that a machine whose speed drifts from one second to
the next slows both alike; the block times are compared as medians, wall
and CPU (``time.process_time``: all threads, kernel time included).  Each
thread does a little work (``sum(range(2000))``, about 20 us) or, with
``--no-work``, nothing (the worst case).  Target: a ratio of at most 1.05
for the thread that works.

    python benchmarks/thread_altstack.py [--threads 200] [--rounds 60] [--no-work]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time

from ratio import ratio_line


def work() -> None:
    sum(range(2000))


def nothing() -> None:
    pass


def block(n: int, target) -> tuple[float, float]:
    """Wall and CPU time per thread (us) of n threads started and joined."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    return ((time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=200, help="threads per block")
    parser.add_argument("--rounds", type=int, default=60, help="blocks of each variant")
    parser.add_argument("--no-work", action="store_true",
                        help="threads that do nothing (the worst case)")
    args = parser.parse_args()
    import pyqtguard
    from pyqtguard import _native

    target = nothing if args.no_work else work
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as logs:
        pyqtguard.install(log_dir=logs)
        block(200, target)                                  # warm-up
        installed_before = _native.altstack_stats()["installed"]
        wall: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            order = [False, True]
            rng.shuffle(order)
            for on in order:
                _native.altstack_for_new_threads(on)
                w, c = block(args.threads, target)
                wall[on].append(w)
                cpu[on].append(c)
        _native.altstack_for_new_threads(True)
        stats = _native.altstack_stats()
        pyqtguard.uninstall()
    installed = stats["installed"] - installed_before
    assert installed >= args.rounds * args.threads, stats    # the variant did what it says
    what = "nothing" if args.no_work else "a little work (sum(range(2000)))"
    print(f"thread start+join, threads doing {what}: {args.rounds} blocks of "
          f"{args.threads} each way, interleaved, pyqtguard installed "
          f"(Python {sys.version.split()[0]}; stack {stats['size']:,} bytes + guard page):")
    print(f"  without per-thread alternate stacks: {statistics.median(wall[False]):6.1f} us "
          f"per thread (CPU {statistics.median(cpu[False]):6.1f})")
    print(f"  with per-thread alternate stacks:    {statistics.median(wall[True]):6.1f} us "
          f"per thread (CPU {statistics.median(cpu[True]):6.1f})")
    print("  wall " + ratio_line(wall[False], wall[True], target=1.05))
    print("  CPU  " + ratio_line(cpu[False], cpu[True], target=1.05))


if __name__ == "__main__":
    main()
