"""Start-to-exit time of a minimal PyQt6 app, with and without pyqtguard.

Both variants run alternately as child processes of this one script; the
figure is the ratio of the medians (target: at most 1.05).

pyqtguard is imported through the ordinary path finder (PYTHONPATH set to the
folder holding the package), as with a regular install: setuptools' finder
for editable installs adds a few ms per imported module, which no user has.
Bytecode caches are allowed (PYTHONDONTWRITEBYTECODE is dropped), as in a
normal installation: the warm-up runs write them.

1000 runs by default (about 5 minutes): a start takes ~140 ms and one run
differs from the next by up to 30% on a shared VM, so with 200 runs the ratio
of medians moved by +-4% from one benchmark run to the next; with 1000 its
95% interval is about +-2%.

    python benchmarks/startup.py [--runs 1000] [--instructions]
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

from ratio import ratio_line

APP = """
import sys
{install}
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv)
label = QLabel("hello")
label.show()
QTimer.singleShot(0, app.quit)
app.exec()
"""


def time_run(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def instructions(code: str, env: dict[str, str]) -> int:
    """Instructions the whole run executes, counted by valgrind's callgrind:
    the same on every run, whatever the machine's load."""
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg",
             sys.executable, "-c", code],
            env=dict(env, PYTHONHASHSEED="0"), check=True, text=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise SystemExit("valgrind printed no instruction count")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions under valgrind (needs valgrind; "
                             "a figure that does not move with the machine's load)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logs:
        import pyqtguard

        package_parent = os.path.dirname(os.path.dirname(pyqtguard.__file__))
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYQTGUARD_LOG_DIR=logs,
                   PYTHONPATH=package_parent)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        plain = APP.format(install="")
        guarded = APP.format(install="import pyqtguard; pyqtguard.install()")
        time_run(plain, env), time_run(guarded, env)  # warm the caches
        plain_times, guarded_times = [], []
        order = random.Random(1)
        for _ in range(args.runs):
            pair = [(plain, plain_times), (guarded, guarded_times)]
            order.shuffle(pair)               # no fixed before/after bias
            for code, times in pair:
                times.append(time_run(code, env))
    plain_median = statistics.median(plain_times)
    guarded_median = statistics.median(guarded_times)
    print(f"minimal PyQt6 app, start to exit, median of {args.runs} runs each")
    print(f"  without pyqtguard: {plain_median * 1000:8.1f} ms")
    print(f"  with pyqtguard:    {guarded_median * 1000:8.1f} ms")
    print("  " + ratio_line(plain_times, guarded_times, target=1.05))
    if args.instructions:
        with tempfile.TemporaryDirectory() as logs:
            env["PYQTGUARD_LOG_DIR"] = logs
            plain_count, guarded_count = instructions(plain, env), instructions(guarded, env)
        print(f"instructions (callgrind): {plain_count:,} without, {guarded_count:,} with, "
              f"ratio {guarded_count / plain_count:.3f}")


if __name__ == "__main__":
    main()
