"""Start-to-exit time of a minimal PyQt6 app, with and without pyqtguard.

Both variants run alternately as child processes of this one script; the
figure is the ratio of the medians (target: at most 1.05).

pyqtguard is imported through the ordinary path finder (PYTHONPATH set to the
folder holding the package), as with a regular install: setuptools' finder
for editable installs adds a few ms per imported module, which no user has.
Bytecode caches are allowed (PYTHONDONTWRITEBYTECODE is dropped), as in a
normal installation: the warm-up runs write them.

    python benchmarks/startup.py [--runs 100]
"""
from __future__ import annotations

import argparse
import os
import random
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
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


if __name__ == "__main__":
    main()
