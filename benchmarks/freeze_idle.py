"""CPU cost of GUI-freeze detection in an idle app.

An idle PyQt6 app (a window, an event loop with nothing to do) runs for
10 s with pyqtguard installed (freeze detection on, freeze_ms=1000) and
without; the figure is the extra CPU time as a share of one core (target:
under 1%).  CPU time is the child's user+system time from wait4().

    python benchmarks/freeze_idle.py [--seconds 10]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

APP = """
import sys
{install}
from PyQt6 import QtCore, QtWidgets
app = QtWidgets.QApplication(sys.argv)
window = QtWidgets.QLabel("idle")
window.show()
QtCore.QTimer.singleShot(int(float(sys.argv[1]) * 1000), app.quit)
app.exec()
"""


def cpu_seconds(source: str, seconds: float, env: dict[str, str]) -> float:
    proc = subprocess.Popen([sys.executable, "-c", source, str(seconds)], env=env,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"app failed: status {status}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    import pyqtguard

    with tempfile.TemporaryDirectory() as logs:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYQTGUARD_LOG_DIR=logs,
                   PYTHONPATH=os.path.dirname(os.path.dirname(pyqtguard.__file__)))
        plain = cpu_seconds(APP.format(install=""), args.seconds, env)
        guarded = cpu_seconds(APP.format(
            install="import pyqtguard; pyqtguard.install(freeze_ms=1000)"), args.seconds, env)
    extra = (guarded - plain) / args.seconds * 100
    print(f"idle PyQt6 app for {args.seconds:g} s (start-up included in both):")
    print(f"  CPU without pyqtguard:           {plain * 1000:7.1f} ms")
    print(f"  CPU with freeze detection on:    {guarded * 1000:7.1f} ms")
    print(f"  extra CPU: {extra:.2f}% of one core (target < 1%)")


if __name__ == "__main__":
    main()
