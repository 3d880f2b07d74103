"""10,000 tiny tasks, each delivering one result to the GUI thread:
pyqtguard workers against a raw QRunnable + one shared signal, in the same
run (target ratio: at most 1.10, goal 1.05), and superqt's thread_worker when
superqt is installed.  Then 100,000 tasks through pyqtguard workers with the
resident memory printed along the way (flat).

    QT_QPA_PLATFORM=offscreen python benchmarks/workers.py [--tasks 10000]
"""
from __future__ import annotations

import argparse
import gc
import statistics
import time

from PyQt6 import QtCore

app = QtCore.QCoreApplication([])


def tiny(n: int) -> int:
    return n + 1


def collector(n: int) -> tuple[list[object], QtCore.QEventLoop, object]:
    """A results list, an event loop, and the slot that quits it at *n*."""
    received: list[object] = []
    loop = QtCore.QEventLoop()

    def got(value: object) -> None:
        received.append(value)
        if len(received) == n:
            loop.quit()

    return received, loop, got


def run_raw(n: int) -> float:
    class Emitter(QtCore.QObject):
        done = QtCore.pyqtSignal(object)

    class Task(QtCore.QRunnable):
        def __init__(self, emitter: Emitter, value: int) -> None:
            super().__init__()
            self.emitter = emitter
            self.value = value

        def run(self) -> None:
            self.emitter.done.emit(tiny(self.value))

    emitter = Emitter()
    _received, loop, got = collector(n)
    emitter.done.connect(got)
    pool = QtCore.QThreadPool.globalInstance()
    start = time.perf_counter()
    for i in range(n):
        pool.start(Task(emitter, i))
    loop.exec()
    return time.perf_counter() - start


def run_pyqtguard(n: int) -> float:
    from pyqtguard import workers

    _received, loop, got = collector(n)
    start = time.perf_counter()
    for i in range(n):
        worker = workers.Worker(tiny, i)
        worker.returned.connect(got)
        worker.start()
    loop.exec()
    elapsed = time.perf_counter() - start
    app.processEvents()                      # deliver the last `finished` events
    return elapsed


def run_superqt(n: int) -> float | None:
    try:
        from superqt.utils import create_worker
    except ImportError:
        return None
    _received, loop, got = collector(n)
    start = time.perf_counter()
    for i in range(n):
        create_worker(tiny, i, _connect={"returned": got})
    loop.exec()
    return time.perf_counter() - start


def rss_kb() -> int:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * 4


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    run_raw(500), run_pyqtguard(500)                     # warm up
    raw, ours, sq = [], [], []
    for _ in range(args.runs):
        raw.append(run_raw(args.tasks))
        ours.append(run_pyqtguard(args.tasks))
        value = run_superqt(args.tasks)
        if value is not None:
            sq.append(value)
    raw_s, ours_s = statistics.median(raw), statistics.median(ours)
    print(f"{args.tasks:,} tiny tasks, one result each to the GUI thread, median of "
          f"{args.runs} runs:")
    print(f"  raw QRunnable + signal: {raw_s * 1000:8.1f} ms")
    print(f"  pyqtguard workers:      {ours_s * 1000:8.1f} ms")
    print(f"  ratio: {ours_s / raw_s:.3f} (target <= 1.10, goal 1.05)")
    if sq:
        sq_s = statistics.median(sq)
        print(f"  superqt thread_worker:  {sq_s * 1000:8.1f} ms (ratio {sq_s / raw_s:.3f})")
    else:
        print("  superqt: not installed")
    print("memory across 100,000 tasks (flat):")
    for batch in range(10):
        run_pyqtguard(10_000)
        gc.collect()
        if batch in (0, 4, 9):
            print(f"  after {(batch + 1) * 10_000:>7,} tasks: RSS {rss_kb():>8,} kB")


if __name__ == "__main__":
    main()
