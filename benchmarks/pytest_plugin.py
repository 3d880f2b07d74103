"""A generated suite of small Qt tests, run with and without ``--pyqtguard``.

1,000 tests (half of them start and join a thread, a QThread or a pyqtguard
worker; the rest do a little Qt work), each suite run as a whole pytest
process, the two alternately; the figure is the ratio of the medians of the
wall times (target: at most 1.05), with its 95% interval, and the ratio of
the processes' CPU times (user + system, load-independent).

    python benchmarks/pytest_plugin.py [--tests 1000] [--runs 7]
    python benchmarks/pytest_plugin.py --short      # CI: that it runs
    python benchmarks/pytest_plugin.py --waits      # pytest-qt: one qtbot.waitUntil a test

``--waits``: each test runs one ``qtbot.waitUntil`` whose condition holds
after one turn (one ``qtbot.wait(10)``: a top-level ``QEventLoop``), the
cost pyqtguard adds to each of a pytest-qt suite's waits (the loop is
watched as the application's is) and to its tests.
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

HEADER = """
import threading
from PyQt6.QtCore import QObject, QThread, QTimer, pyqtSignal
from PyQt6.QtWidgets import QApplication, QLabel
from pyqtguard import workers

app = QApplication.instance() or QApplication([])


class Work(QThread):
    def run(self):
        self.total = sum(range(100))
"""

KINDS = [
    """
def test_thread_{n}():
    t = threading.Thread(target=sum, args=(range(100),)); t.start(); t.join()
""",
    """
def test_qthread_{n}():
    t = Work(); t.start(); assert t.wait(5000)
""",
    """
def test_worker_{n}():
    done = []
    w = workers.Worker(sum, range(100))
    w.returned.connect(done.append)
    w.start()
    while not done:
        app.processEvents()
""",
    """
def test_label_{n}():
    label = QLabel("x{n}"); label.setText("y"); assert label.text() == "y"
""",
    """
def test_math_{n}():
    assert sum(range({n} % 50)) >= 0
""",
    """
def test_timer_{n}():
    timer = QTimer(); timer.setInterval(5); assert timer.interval() == 5
""",
]


WAITS_HEADER = """
import itertools
"""

WAITS_KIND = """
def test_wait_{n}(qtbot):
    turns = itertools.count()
    qtbot.waitUntil(lambda: next(turns) > 0, timeout=5000)
"""


def write_suite(folder: str, count: int, waits: bool = False) -> None:
    per_file = 100
    if waits:
        for start in range(0, count, per_file):
            body = [WAITS_HEADER] + [WAITS_KIND.format(n=n)
                                     for n in range(start, min(count, start + per_file))]
            with open(os.path.join(folder, f"test_waits_{start // per_file:03d}.py"), "w") as f:
                f.write("".join(body))
        return
    for start in range(0, count, per_file):
        body = [HEADER]
        for n in range(start, min(count, start + per_file)):
            # Half the tests start a thread, a QThread or a worker.
            kind = KINDS[n % 3] if n % 2 == 0 else KINDS[3 + n % 3]
            body.append(kind.format(n=n))
        with open(os.path.join(folder, f"test_gen_{start // per_file:03d}.py"), "w") as f:
            f.write("".join(body))


def run_suite(folder: str, extra: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one pytest process over the suite."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-x", *extra, folder], env=env, cwd=folder,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the suite failed ({' '.join(extra) or 'plain'}):\n"
                         + proc.stdout.decode(errors="replace")[-3000:])
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--short", action="store_true", help="100 tests, 1 run each")
    parser.add_argument("--waits", action="store_true",
                        help="pytest-qt tests: one qtbot.waitUntil each")
    args = parser.parse_args()
    if args.short:
        args.tests, args.runs = 100, 1
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as logs:
        write_suite(folder, args.tests, waits=args.waits)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYQTGUARD_LOG_DIR=logs)
        variants = {"plain": [], "guarded": ["--pyqtguard"]}
        times: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        run_suite(folder, [], env)                              # warm the caches
        order = random.Random(1)
        for _ in range(args.runs):
            names = list(variants)
            order.shuffle(names)
            for name in names:
                wall, used = _timed(folder, variants[name], env)
                times[name].append(wall)
                cpu[name].append(used)
    what = ("pytest-qt tests, one qtbot.waitUntil each" if args.waits
            else "small Qt tests (half start a thread, QThread or worker)")
    print(f"{args.tests} {what}, median of {args.runs} runs each")
    for name in variants:
        print(f"  {name:8s}: {statistics.median(times[name]):7.2f} s wall, "
              f"{statistics.median(cpu[name]):7.2f} s CPU")
    print("  wall " + ratio_line(times["plain"], times["guarded"], target=1.05))
    cpu_ratio = statistics.median(cpu["guarded"]) / statistics.median(cpu["plain"])
    print(f"  CPU ratio: {cpu_ratio:.3f} (target <= 1.05)")


def _timed(folder: str, extra: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = os.times()
    wall = run_suite(folder, extra, env)
    after = os.times()
    return wall, (after.children_user - before.children_user
                  + after.children_system - before.children_system)


if __name__ == "__main__":
    main()
