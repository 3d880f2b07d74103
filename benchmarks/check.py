"""`pyqtguard check` speed, and the runtime guard's cost to a child's start.

1. `pyqtguard check` over 1,000 generated files (a mix of guarded apps,
   unguarded ones and plain modules): wall time of the whole command
   (target: under 2 s).
2. Start-up of 8 spawn children (a Pool of 8 doing one trivial task each),
   with the guard (the parent under `pyqtguard.install()`) and without it
   (`install(guard_children=False)`), medians over repeated runs in one
   process tree; the figure is the ratio (target: at most 1.05).

    python benchmarks/check.py [--runs 10]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

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
    with mp.get_context("spawn").Pool(8) as pool:
        pool.map(one, range(8), chunksize=1)
"""


def time_check(folder: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pyqtguard", "check", folder], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_pool(script: str, mode: str, logs: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, script, mode, logs], env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    import pyqtguard

    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pyqtguard.__file__)))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as folder:
        for index in range(1000):
            with open(os.path.join(folder, f"module_{index}.py"), "w") as f:
                f.write(SHAPES[index % len(SHAPES)])
        time_check(folder, env)                          # warm the caches
        check_s = statistics.median(time_check(folder, env) for _ in range(3))
        script = os.path.join(folder, "pool_app.py")
        with open(script, "w") as f:
            f.write(POOL_APP)
        logs = os.path.join(folder, "logs")
        time_pool(script, "plain", logs, env), time_pool(script, "guarded", logs, env)
        times: dict[str, list[float]] = {"plain": [], "guarded": []}
        for _ in range(args.runs):
            for mode in times:
                times[mode].append(time_pool(script, mode, logs, env))
    plain = statistics.median(times["plain"])
    guarded = statistics.median(times["guarded"])
    print(f"pyqtguard check over 1,000 files: {check_s:.2f} s (target < 2 s)")
    print(f"8 spawn children (Pool(8), one task each), median of {args.runs} runs:")
    print(f"  without the child guard: {plain * 1000:7.1f} ms")
    print(f"  with the child guard:    {guarded * 1000:7.1f} ms")
    print(f"  ratio: {guarded / plain:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
