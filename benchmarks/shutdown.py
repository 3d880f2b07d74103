"""Exit time of a clean PyQt6 app, with and without pyqtguard.

The app shows a window and, from a timer, prints CLOCK_MONOTONIC
(system-wide on Linux) and quits its event loop; app.exec() returns and the
script ends.  The parent stops the clock when the process is gone, so the
figure covers everything pyqtguard does at exit: at the loop's end (the
shutdown deadline, the table of threads still alive), in its exit handlers
and in the interpreter's teardown.  Medians over repeated
runs, both variants interleaved in one process tree; the figure is the ratio
(target: at most 1.05).

    python benchmarks/shutdown.py [--runs 200]
"""
from __future__ import annotations

import argparse
import os
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    import pyqtguard

    with tempfile.TemporaryDirectory() as logs:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYQTGUARD_LOG_DIR=logs,
                   PYTHONPATH=os.path.dirname(os.path.dirname(pyqtguard.__file__)))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        plain = APP.format(install="")
        guarded = APP.format(install="import pyqtguard; pyqtguard.install()")
        exit_time(plain, env), exit_time(guarded, env)          # warm the caches
        times: dict[str, list[float]] = {"plain": [], "guarded": []}
        for _ in range(args.runs):
            times["plain"].append(exit_time(plain, env))
            times["guarded"].append(exit_time(guarded, env))
    plain_ms = statistics.median(times["plain"])
    guarded_ms = statistics.median(times["guarded"])
    print(f"clean PyQt6 app, exit time (quit() -> process gone), "
          f"median of {args.runs} runs each")
    print(f"  without pyqtguard: {plain_ms:7.1f} ms")
    print(f"  with pyqtguard:    {guarded_ms:7.1f} ms")
    print("  " + ratio_line(times["plain"], times["guarded"], target=1.05))


if __name__ == "__main__":
    main()
