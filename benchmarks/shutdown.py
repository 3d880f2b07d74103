"""Exit time of a clean PyQt6 app, with and without pyqtguard.

The app shows a window and, from a timer, prints CLOCK_MONOTONIC
(system-wide on Linux) and quits its event loop; app.exec() returns and the
script ends.  The parent stops the clock when the process is gone, so the
figure covers everything pyqtguard does at exit: at the loop's end (the
shutdown deadline, the table of threads still alive), in its exit handlers
and in the interpreter's teardown.  Medians over repeated runs, both
variants interleaved in one process tree (in random order within each
pair); the figure is the ratio (target: at most 1.05).

600 runs by default (about 5 minutes): an exit takes 15-25 ms and one run
differs from the next by up to 30% on a shared VM, so the ratio of medians of
200 runs still moves by +-4% from one benchmark run to the next.

``--instructions`` also counts, under valgrind's callgrind, the instructions
executed from the quit to the end of the process: a figure that does not
move with the machine's load (kernel work and cache misses not included).

    python benchmarks/shutdown.py [--runs 600] [--instructions]
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
import sys, time
{install}
from PyQt6 import QtCore, QtWidgets
app = QtWidgets.QApplication(sys.argv)
window = QtWidgets.QMainWindow()
window.setCentralWidget(QtWidgets.QLabel("hello"))
window.show()
def quit_now():
    print(time.monotonic_ns(), flush=True)
    app.quit()
QtCore.QTimer.singleShot(50, quit_now)
app.exec()
"""


def exit_time(source: str, env: dict[str, str]) -> float:
    proc = subprocess.Popen([sys.executable, "-c", source], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    proc.wait()
    end = time.monotonic_ns()
    if proc.returncode != 0 or not line.strip():
        raise SystemExit(f"app failed: exit status {proc.returncode}")
    return (end - int(line)) / 1e6


def exit_instructions(source: str, env: dict[str, str]) -> int:
    """Instructions from the app's quit to the end of the process: callgrind
    dumps its counts when print() is first called (the quit's timestamp) and
    again at the end; the last dump is the exit."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg",
             "--dump-before=builtin_print", sys.executable, "-c", source],
            env=dict(env, PYTHONHASHSEED="0"), check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(f"{out}/cg") as dump:
            match = re.search(r"^totals: (\d+)", dump.read(), re.MULTILINE)
        if match is None or not os.path.exists(f"{out}/cg.1"):
            raise SystemExit("callgrind did not split the run at the quit")
        return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=600)
    parser.add_argument("--instructions", action="store_true",
                        help="also count the exit's instructions under valgrind")
    args = parser.parse_args()
    import pyqtguard

    with tempfile.TemporaryDirectory() as logs:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYQTGUARD_LOG_DIR=logs,
                   PYTHONPATH=os.path.dirname(os.path.dirname(pyqtguard.__file__)))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        plain = APP.format(install="")
        guarded = APP.format(install="import pyqtguard; pyqtguard.install()")
        exit_time(plain, env), exit_time(guarded, env)          # warm the caches
        times: dict[str, list[float]] = {plain: [], guarded: []}
        order = random.Random(1)
        for _ in range(args.runs):
            pair = [plain, guarded]
            order.shuffle(pair)               # no fixed before/after bias
            for source in pair:
                times[source].append(exit_time(source, env))
        if args.instructions:
            counts = [exit_instructions(source, env) for source in (plain, guarded)]
    plain_ms = statistics.median(times[plain])
    guarded_ms = statistics.median(times[guarded])
    print(f"clean PyQt6 app, exit time (quit() -> process gone), "
          f"median of {args.runs} runs each")
    print(f"  without pyqtguard: {plain_ms:7.1f} ms")
    print(f"  with pyqtguard:    {guarded_ms:7.1f} ms")
    print("  " + ratio_line(times[plain], times[guarded], target=1.05))
    if args.instructions:
        print(f"exit instructions (callgrind): {counts[0]:,} without, {counts[1]:,} with, "
              f"ratio {counts[1] / counts[0]:.3f}")


if __name__ == "__main__":
    main()
