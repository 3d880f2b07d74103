"""Time to report distinct exceptions raised in slots, until each report is
in its file: pyqtguard's C hooks against a pure-Python ``sys.excepthook``
that formats with ``traceback`` and writes the text to a file (issue 21).

Each run is a child process: a QObject's signal is connected to a slot that
calls one of N distinct functions, each raising on a line of its own (so no
report is a repeat); the clock runs from the first emit until every report
has been written (pyqtguard: its queue flushed as well).  Modes, interleaved
run by run:

* ``python`` - ``sys.excepthook`` formats with ``traceback.format_exception``
  and writes to a file, flushed each time (the baseline);
* ``pyqtguard`` - ``pyqtguard.install()``: the run log, the default copy to
  stderr (a file here), the ``pyqtguard`` logger;
* ``pyqtguard-nostderr`` - ``install(stderr=False)``.

Printed: the medians, each ratio with its 95% interval (target: at most 1.0
with the stderr copy), the same ratio of CPU time (load-independent), and
the peak RSS growth over --memory N distinct exceptions (the repeat table
is bounded, so it stays flat).

    python benchmarks/exception_reports.py [--runs 9] [--exceptions 1000] [--memory 100000]
    python benchmarks/exception_reports.py --short     # CI: it runs, not its figures
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio import ratio_line  # noqa: E402

CHILD = r"""
import json, os, resource, sys, time
mode, folder, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, folder)
import raisers                                  # N functions, one raising line each
if mode == "python":
    import traceback
    log = open(os.path.join(folder, "python.log"), "a", encoding="utf-8")
    def hook(exc_type, exc_value, exc_tb):
        log.write("".join(traceback.format_exception(exc_type, exc_value, exc_tb)))
        log.flush()
    sys.excepthook = hook
else:
    import pyqtguard
    from pyqtguard import _native
    pyqtguard.install(log_dir=folder, stderr=(mode == "pyqtguard"))
from PyQt6 import QtCore
app = QtCore.QCoreApplication([])
class Source(QtCore.QObject):
    fire = QtCore.pyqtSignal(int)
def slot(i):
    raisers.FUNCTIONS[i % len(raisers.FUNCTIONS)]()
source = Source()
source.fire.connect(slot)
source.fire.emit(0)                             # warm-up: imports, first report
if mode != "python":
    _native.flush_exception_reports()
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
wall, cpu = time.perf_counter(), time.process_time()
for i in range(1, n + 1):
    source.fire.emit(i)
if mode != "python":
    _native.flush_exception_reports()           # anything still queued: written now
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"wall": wall, "cpu": cpu, "rss_kb": rss_after - rss_before}), flush=True)
"""

MODES = ("python", "pyqtguard", "pyqtguard-nostderr")


def write_raisers(folder: str, count: int) -> None:
    """raisers.py: `count` functions, each raising a ValueError of its own."""
    lines = []
    for i in range(count):
        lines.append(f"def raise_{i}():\n    raise ValueError('distinct failure number {i}')\n")
    lines.append(f"FUNCTIONS = [{', '.join(f'raise_{i}' for i in range(count))}]\n")
    with open(os.path.join(folder, "raisers.py"), "w") as out:
        out.write("\n".join(lines))


def one_run(mode: str, exceptions: int, distinct: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="pqg-excbench-") as folder:
        write_raisers(folder, distinct)
        child = os.path.join(folder, "app.py")      # a file: its lines are in reports
        with open(child, "w") as out:
            out.write(CHILD)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONDONTWRITEBYTECODE="1")
        env.pop("PYQTGUARD_DISABLE", None)
        with open(os.path.join(folder, "stderr.txt"), "w") as err:
            proc = subprocess.run([sys.executable, child, mode, folder, str(exceptions)],
                                  env=env, stdout=subprocess.PIPE, stderr=err, text=True,
                                  timeout=600)
        if proc.returncode != 0:
            with open(os.path.join(folder, "stderr.txt")) as err:
                raise SystemExit(f"{mode}: child exited with {proc.returncode}\n{err.read()[-2000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--exceptions", type=int, default=1000)
    parser.add_argument("--memory", type=int, default=100_000,
                        help="distinct exceptions for the memory check (0: skip)")
    parser.add_argument("--short", action="store_true", help="CI: 2 runs, 200 exceptions")
    args = parser.parse_args(argv)
    if args.short:
        args.runs, args.exceptions, args.memory = 2, 200, 2000
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for _ in range(args.runs):
        for mode in MODES:
            results[mode].append(one_run(mode, args.exceptions, args.exceptions))
    wall = {m: [r["wall"] for r in results[m]] for m in MODES}
    cpu = {m: [r["cpu"] for r in results[m]] for m in MODES}
    print(f"{args.exceptions} distinct exceptions raised in a slot, {args.runs} runs each "
          "(median µs per report):")
    for mode in MODES:
        print(f"  {mode:20s} wall {statistics.median(wall[mode]) / args.exceptions * 1e6:7.1f}"
              f"   cpu {statistics.median(cpu[mode]) / args.exceptions * 1e6:7.1f}")
    for mode in ("pyqtguard", "pyqtguard-nostderr"):
        print(f"{mode} / python hook, wall {ratio_line(wall['python'], wall[mode], target=1.0)}")
        cpu_ratio = statistics.median(cpu[mode]) / statistics.median(cpu["python"])
        print(f"{mode} / python hook, cpu  ratio: {cpu_ratio:.3f}")
    if args.memory:
        # Memory: N exceptions of 1,000 distinct places (what a real app can
        # have), every one reported in full; then twice as many.
        small = one_run("pyqtguard", args.memory // 2, 1000)["rss_kb"]
        large = one_run("pyqtguard", args.memory, 1000)["rss_kb"]
        print(f"peak RSS growth: {small} KiB after {args.memory // 2} reports, "
              f"{large} KiB after {args.memory} (flat: the second is not about twice the first)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
