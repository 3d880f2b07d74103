"""`pyqtguard check` speed, and the runtime guard's cost to a child's start.

1. `pyqtguard check` over 1,000 generated files (a mix of guarded apps,
   unguarded ones and plain modules): wall time of the whole command
   (target: under 2 s).
2. Start-up of 8 spawn children (a Pool of 8 doing one trivial task each),
   with the guard (the parent under `pyqtguard.install()`) and without it
   (`install(guard_children=False)`), interleaved in random order within
   each pair.  Printed: the wall ratio of medians with its 95% interval,
   the CPU ratio (user + system time of the app and its 8 children, from
   ``os.wait4``: the pool reaps its children, so their time is in the
   app's) and, with ``--instructions``, the instructions of the app and its
   children under valgrind's callgrind (``--trace-children``; three
   readings, about a minute each).  Target: at most 1.05 (met when the wall
   interval's upper end and the CPU ratio are both under it).

    python benchmarks/check.py [--runs 20] [--files 1000] [--instructions]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from measure import callgrind, interleave, package_env, report, run_child

SHAPES = [
    "import sys\nfrom PyQt6.QtWidgets import QApplication\n\n"
    "def main():\n    app = QApplication(sys.argv)\n    return app.exec()\n\n"
    "if __name__ == '__main__':\n    sys.exit(main())\n",
    "import multiprocessing\n\ndef f(x):\n    return x\n\n"
    "pool = multiprocessing.Pool(2)\nprint(pool.map(f, range(3)))\n",
    "import os\n\nclass Thing:\n    def __init__(self):\n        self.path = os.getcwd()\n"
    "\n    def size(self):\n        return len(self.path)\n",
]

POOL_APP = """
import sys, multiprocessing as mp
import pyqtguard
pyqtguard.install(guard_children=(sys.argv[1] == "guarded"), log_dir=sys.argv[2])
def one(n):
    return n
if __name__ == "__main__":
    pool = mp.get_context("spawn").Pool(8)
    pool.map(one, range(8), chunksize=1)
    pool.close()                  # every child starts and ends: the same work each run
    pool.join()
"""


def time_check(folder: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pyqtguard", "check", folder], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def pool_instructions(script: str, mode: str, logs: str, env: dict[str, str]) -> int:
    """Instructions of the app and its spawn children, under callgrind."""
    return sum(callgrind([sys.executable, script, mode, logs], env, children=True).values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--files", type=int, default=1000,
                        help="files for `pyqtguard check` to read (1000; fewer: a smoke test)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions under valgrind (three readings)")
    args = parser.parse_args()
    env = package_env()
    lines = []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(args.files):
            with open(os.path.join(folder, f"module_{index}.py"), "w") as f:
                f.write(SHAPES[index % len(SHAPES)])
        time_check(folder, env)                          # warm the caches
        check_s = statistics.median(time_check(folder, env) for _ in range(3))
        lines.append(f"pyqtguard check over {args.files:,} files: {check_s:.2f} s "
                     f"(target < 2 s for 1,000)")
        script = os.path.join(folder, "pool_app.py")
        with open(script, "w") as f:
            f.write(POOL_APP)
        logs = os.path.join(folder, "logs")

        def measure(mode: str):
            return run_child([sys.executable, script, mode, logs], env)

        measure("plain"), measure("guarded")              # warm the caches
        samples = interleave({"plain": "plain", "guarded": "guarded"}, args.runs, measure)
        lines += report("8 spawn children (Pool(8), one task each)", True,
                        samples["plain"], samples["guarded"], 1.05,
                        ("without the child guard", "with the child guard"))
        if args.instructions:
            for _ in range(3):
                without, with_ = (pool_instructions(script, mode, logs, env)
                                  for mode in ("plain", "guarded"))
                lines.append(f"  instructions (callgrind, app + children): {without:,} "
                             f"without, {with_:,} with, ratio {with_ / without:.3f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
