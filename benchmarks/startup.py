"""Start-to-exit time of a minimal PyQt6 app, with and without pyqtguard.

Both variants run alternately as child processes of this one script (in
random order within each pair).  Printed: the wall ratio of medians with its
95% interval, the CPU ratio (user + system time of each child, from
``os.wait4``) and, with ``--instructions``, the instructions each variant
executes under valgrind's callgrind (three readings each: they do not move
with the machine's load).  Target: at most 1.05 (met when the wall
interval's upper end and the CPU ratio are both under it).

pyqtguard is imported through the ordinary path finder (PYTHONPATH set to the
folder holding the package), as with a regular install: setuptools' finder
for editable installs adds a few ms per imported module, which no user has.
Bytecode caches are allowed (PYTHONDONTWRITEBYTECODE is dropped), as in a
normal installation: the warm-up runs write them.

1000 runs by default (about 5 minutes): a start takes ~140 ms and one run
differs from the next by up to 30% on a shared VM, so with 200 runs the ratio
of medians moved by +-4% from one benchmark run to the next; with 1000 its
95% interval is about +-2%.

``--breakdown`` runs four variants interleaved instead, to show where the
cost lies: no pyqtguard; the package and its C core imported; every module
``install()`` imports, imported but not installed; ``install()``.  Printed:
each one's median and what it adds to the one before (in ms and as a share
of the plain start).

    python benchmarks/startup.py [--runs 1000] [--instructions] [--breakdown]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile

from measure import callgrind, interleave, package_env, report, run_child

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
TARGET = 1.05


def instruction_lines(plain: str, guarded: str, env: dict[str, str], readings: int = 3
                      ) -> list[str]:
    """Instructions of the whole run under callgrind, *readings* times each."""
    lines = []
    for _ in range(readings):
        with tempfile.TemporaryDirectory() as logs:       # a fresh log folder each
            env = dict(env, PYQTGUARD_LOG_DIR=logs)
            without = sum(callgrind([sys.executable, "-c", plain], env).values())
            with_ = sum(callgrind([sys.executable, "-c", guarded], env).values())
        lines.append(f"  instructions (callgrind): {without:,} without, {with_:,} with, "
                     f"ratio {with_ / without:.3f}")
    return lines


def startup_modules(env: dict[str, str]) -> list[str]:
    """The pyqtguard modules a process has loaded once ``install()`` returns."""
    probe = ("import sys, pyqtguard; pyqtguard.install(); "
             "print(' '.join(sorted(m for m in sys.modules if m.startswith('pyqtguard'))))")
    out = subprocess.run([sys.executable, "-c", probe], env=env, check=True,
                         capture_output=True, text=True).stdout
    return out.split()


def breakdown_lines(env: dict[str, str], runs: int) -> list[str]:
    """Where start-up's cost lies: each layer's median and what it adds."""
    modules = startup_modules(env)
    layers = {
        "no pyqtguard": "",
        "package + C core": "import pyqtguard._native",
        f"+ the other {len(modules) - 2} start-up modules": "import " + ", ".join(modules),
        "+ install()": "import pyqtguard; pyqtguard.install()",
    }
    sources = {name: APP.format(install=code) for name, code in layers.items()}

    def measure(code: str):
        return run_child([sys.executable, "-c", code], env)

    for code in sources.values():
        measure(code)                                     # warm the caches
    samples = interleave(sources, runs, measure)
    lines = [f"where start-up's cost lies, median of {runs} interleaved runs each "
             f"(CPU time; wall in brackets):"]
    base_cpu = previous_cpu = statistics.median(s.cpu for s in samples["no pyqtguard"])
    previous_wall = statistics.median(s.wall for s in samples["no pyqtguard"])
    for name, runs_of in samples.items():
        cpu = statistics.median(s.cpu for s in runs_of)
        wall = statistics.median(s.wall for s in runs_of)
        lines.append(f"  {name:<34} {cpu * 1e3:7.2f} ms  adds {(cpu - previous_cpu) * 1e3:+6.2f} ms "
                     f"({(cpu - previous_cpu) / base_cpu:+6.1%})  "
                     f"[wall {wall * 1e3:7.2f} ms, adds {(wall - previous_wall) * 1e3:+6.2f} ms]")
        previous_cpu, previous_wall = cpu, wall
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions under valgrind (three readings)")
    parser.add_argument("--breakdown", action="store_true",
                        help="instead: what the C core, the start-up modules and "
                             "install() each add")
    args = parser.parse_args()
    plain = APP.format(install="")
    guarded = APP.format(install="import pyqtguard; pyqtguard.install()")
    with tempfile.TemporaryDirectory() as logs:
        env = package_env(QT_QPA_PLATFORM="offscreen", PYQTGUARD_LOG_DIR=logs)
        if args.breakdown:
            print("\n".join(breakdown_lines(env, args.runs)))
            return

        def measure(code: str):
            return run_child([sys.executable, "-c", code], env)

        measure(plain), measure(guarded)                  # warm the caches
        samples = interleave({"plain": plain, "guarded": guarded}, args.runs, measure)
        lines = report("minimal PyQt6 app, start to exit", True,
                       samples["plain"], samples["guarded"], TARGET)
        if args.instructions:
            lines += instruction_lines(plain, guarded, env)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
