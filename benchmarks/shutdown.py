"""Exit time of a clean PyQt6 app, with and without pyqtguard.

The app shows a window and, from a timer, prints CLOCK_MONOTONIC
(system-wide on Linux) and its own CPU time so far, and quits its event
loop; app.exec() returns and the script ends.  The parent stops the clock
when the process is gone, so the figure covers everything pyqtguard does at
exit: at the loop's end (the shutdown deadline, the table of threads still
alive), in its exit handlers and in the interpreter's teardown.  The exit's
CPU time is the child's total (``os.wait4``) minus what it had used at the
quit.  Both variants interleaved in one process tree (in random order within
each pair); printed: the wall ratio of medians with its 95% interval and the
CPU ratio (target: at most 1.05 for both).

600 runs by default (about 5 minutes): an exit takes 15-25 ms and one run
differs from the next by up to 30% on a shared VM, so the ratio of medians of
200 runs still moves by +-4% from one benchmark run to the next.

``--instructions`` also counts, under valgrind's callgrind, the instructions
executed from the quit to the end of the process (three readings): a figure
that does not move with the machine's load (kernel work and cache misses not
included).

    python benchmarks/shutdown.py [--runs 600] [--instructions]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from measure import Sample, callgrind, interleave, package_env, report

APP = """
import sys, time
{install}
from PyQt6 import QtCore, QtWidgets
app = QtWidgets.QApplication(sys.argv)
window = QtWidgets.QMainWindow()
window.setCentralWidget(QtWidgets.QLabel("hello"))
window.show()
def quit_now():
    print(time.monotonic_ns(), time.process_time_ns(), flush=True)
    app.quit()
QtCore.QTimer.singleShot(50, quit_now)
app.exec()
"""
TARGET = 1.05


def exit_sample(source: str, env: dict[str, str]) -> Sample:
    """Wall and CPU time from the quit to the end of the process."""
    proc = subprocess.Popen([sys.executable, "-c", source], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    _, status, usage = os.wait4(proc.pid, 0)
    end = time.monotonic_ns()
    proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or len(line.split()) != 2:
        raise SystemExit(f"app failed: exit status {proc.returncode}")
    quit_ns, cpu_at_quit_ns = (int(field) for field in line.split())
    cpu = usage.ru_utime + usage.ru_stime - cpu_at_quit_ns / 1e9
    return Sample((end - quit_ns) / 1e9, max(cpu, 0.0))


def exit_instructions(source: str, env: dict[str, str]) -> int:
    """Instructions from the app's quit to the end of the process: callgrind
    dumps its counts when print() is first called (the quit's timestamp) and
    again at the end; the dump at the end (``cg.PID``) is the exit."""
    totals = callgrind([sys.executable, "-c", source], env,
                       extra=("--dump-before=builtin_print",))
    at_end = [total for name, total in totals.items() if name.count(".") == 1]
    if len(totals) < 2 or len(at_end) != 1:
        raise SystemExit("callgrind did not split the run at the quit")
    return at_end[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=600)
    parser.add_argument("--instructions", action="store_true",
                        help="also count the exit's instructions under valgrind (three readings)")
    args = parser.parse_args()
    plain = APP.format(install="")
    guarded = APP.format(install="import pyqtguard; pyqtguard.install()")
    with tempfile.TemporaryDirectory() as logs:
        env = package_env(QT_QPA_PLATFORM="offscreen", PYQTGUARD_LOG_DIR=logs)
        exit_sample(plain, env), exit_sample(guarded, env)       # warm the caches
        samples = interleave({"plain": plain, "guarded": guarded}, args.runs,
                             lambda source: exit_sample(source, env))
        lines = report("clean PyQt6 app, exit (quit() -> process gone)", True,
                       samples["plain"], samples["guarded"], TARGET)
        if args.instructions:
            for _ in range(3):
                without, with_ = (exit_instructions(s, env) for s in (plain, guarded))
                lines.append(f"  exit instructions (callgrind): {without:,} without, "
                             f"{with_:,} with, ratio {with_ / without:.3f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
