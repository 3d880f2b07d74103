"""Cost of pyqtguard's QThread tracking per QThread start + wait.

Each variant runs in a fresh interpreter (a ``QApplication``, offscreen):
N QThreads, each made, started and waited for one after another, the
application's posted events processed after each (as its event loop
would); the child times the N cycles itself (``time.process_time``: all its
threads, kernel time included; and wall time).  Three patterns:

- ``plain``: a ``QThread()`` whose ``started`` quits it (its own ``run()``,
  an event loop that ends at once);
- ``subclass``: a ``QThread`` subclass with a trivial ``run()``;
- ``worker``: a worker ``QObject`` moved to a ``QThread``, its slot on
  ``started`` (the usual worker pattern), quitting the thread.

The figures are the per-cycle CPU ratio, pyqtguard installed / not, with
its 95% interval, and the wall ratio, over interleaved runs; with
``--instructions``, the instructions per cycle under valgrind's callgrind
(``(I(N) - I(0)) / N`` of the whole process, every thread counted; the
same on every run).  No target of its own: the cost lands in
``pytest_plugin.py``'s suite (a third of its threaded tests start a
QThread) and in every app that starts QThreads often.

    QT_QPA_PLATFORM=offscreen python benchmarks/qthreads.py [--cycles 300] [--runs 15]
        [--patterns plain,subclass,worker] [--instructions]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from measure import callgrind, cpu_line, interleave, package_env, run_child
from ratio import median_ratio_interval

CHILD = r"""
import sys, time
mode, pattern, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "guarded":
    import pyqtguard
    pyqtguard.install()
from PyQt6.QtCore import QObject, Qt, QThread, pyqtSlot
from PyQt6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])


class Trivial(QThread):
    def run(self):
        pass


class Worker(QObject):
    @pyqtSlot()
    def work(self):
        self.thread().quit()


def plain():
    t = QThread()
    t.started.connect(t.quit, Qt.ConnectionType.DirectConnection)   # in the new thread
    t.start()
    t.wait()


def subclass():
    t = Trivial()
    t.start()
    t.wait()


def worker():
    t = QThread()
    w = Worker()
    w.moveToThread(t)
    t.started.connect(w.work)
    t.start()
    t.wait()


cycle = {"plain": plain, "subclass": subclass, "worker": worker}[pattern]
for _ in range(30):     # warm-up, also with n = 0: classes completed, first-use code run
    cycle()
    app.processEvents()
wall, cpu = time.perf_counter(), time.process_time()
for _ in range(n):
    cycle()
    app.processEvents()
print((time.perf_counter() - wall) / max(n, 1) * 1e6,
      (time.process_time() - cpu) / max(n, 1) * 1e6)
"""

PATTERNS = ("plain", "subclass", "worker")


def instructions_per_cycle(mode: str, pattern: str, cycles: int, env: dict[str, str]
                           ) -> float:
    """Instructions per cycle: the whole process with *cycles* cycles less
    the same process with none (start-up, warm-up and exit cancel out)."""
    def total(n: int) -> int:
        return sum(callgrind([sys.executable, "-c", CHILD, mode, pattern, str(n)], env,
                             extra=("--dump-instr=no",)).values())
    return (total(cycles) - total(0)) / cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=300, help="QThreads per run")
    parser.add_argument("--runs", type=int, default=15, help="runs of each variant")
    parser.add_argument("--patterns", default=",".join(PATTERNS),
                        help="comma-separated: " + ", ".join(PATTERNS))
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per cycle under valgrind")
    parser.add_argument("--instruction-cycles", type=int, default=100,
                        help="cycles of each callgrind run")
    args = parser.parse_args()
    patterns = [p for p in args.patterns.split(",") if p]
    unknown = set(patterns) - set(PATTERNS)
    if unknown:
        parser.error(f"unknown pattern(s): {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory() as logs:
        env = package_env(QT_QPA_PLATFORM="offscreen", PYQTGUARD_LOG_DIR=logs)
        variants = {(mode, pattern): (mode, pattern)
                    for pattern in patterns for mode in ("plain", "guarded")}

        def measure(variant: tuple[str, str]) -> tuple[float, float]:
            mode, pattern = variant
            out = run_child([sys.executable, "-c", CHILD, mode, pattern, str(args.cycles)],
                            env).stdout.split()
            return float(out[0]), float(out[1])

        for variant in variants:                          # warm the caches
            measure(variant)
        samples = interleave(variants, args.runs, measure)
        lines = [f"QThread start + wait, {args.cycles} cycles a run, median of "
                 f"{args.runs} interleaved runs each (Python {sys.version.split()[0]}):"]
        for pattern in patterns:
            plain, guarded = samples[("plain", pattern)], samples[("guarded", pattern)]
            pw, gw = [s[0] for s in plain], [s[0] for s in guarded]
            pc, gc = [s[1] for s in plain], [s[1] for s in guarded]
            lines += [
                f"  {pattern}: without pyqtguard CPU {statistics.median(pc):6.1f} us "
                f"(wall {statistics.median(pw):6.1f}), with pyqtguard CPU "
                f"{statistics.median(gc):6.1f} us (wall {statistics.median(gw):6.1f}); "
                f"+{statistics.median(gc) - statistics.median(pc):.1f} us CPU per QThread",
                "    " + cpu_line(pc, gc),
                "    wall ratio: {:.3f} (95% interval {:.3f}-{:.3f})".format(
                    statistics.median(gw) / statistics.median(pw),
                    *median_ratio_interval(pw, gw)),
            ]
        if args.instructions:
            lines.append(f"instructions per cycle (callgrind, {args.instruction_cycles} "
                         "cycles less none):")
            for pattern in patterns:
                without = instructions_per_cycle("plain", pattern, args.instruction_cycles, env)
                with_ = instructions_per_cycle("guarded", pattern, args.instruction_cycles, env)
                lines.append(f"  {pattern}: {without:,.0f} without, {with_:,.0f} with, "
                             f"+{with_ - without:,.0f}, ratio {with_ / without:.3f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
