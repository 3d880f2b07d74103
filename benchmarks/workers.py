"""10,000 tiny tasks, each delivering one result to the GUI thread, in one
process and one run, the variants interleaved (a fresh random order each
round):

- raw: a QRunnable per task on the global QThreadPool, emitting one shared
  signal (queued to the GUI thread);
- ThreadPoolExecutor: ``executor.submit`` per task (as many threads as the
  QThreadPool), the task emitting one shared signal (queued);
- pyqtguard workers: ``Worker(tiny, i)``, ``returned`` connected, started;
- superqt's ``thread_worker`` (``create_worker``), when superqt is installed.

Each run's wall time and CPU time (the whole process, all threads:
``time.process_time``) are printed as medians, and each variant's ratio to
raw and pyqtguard's ratio to the executor, with 95% intervals.  Target:
pyqtguard workers no slower than raw and no slower than the executor (ratio
<= 1.00: met when the wall ratio's interval's upper end and the CPU ratio
are both under it).  Then 100,000 tasks through pyqtguard workers with the
resident memory printed along the way (flat).

    QT_QPA_PLATFORM=offscreen python benchmarks/workers.py [--tasks 10000] [--runs 15]
"""
from __future__ import annotations

import argparse
import gc
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from PyQt6 import QtCore

from measure import Sample, cpu_line, interleave, verdict
from ratio import ratio_line

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


class Emitter(QtCore.QObject):
    done = QtCore.pyqtSignal(object)


def timed(run) -> Sample:
    """Wall and process CPU time of ``run()``; the collector is freed and
    pending deletions processed before the clocks start."""
    gc.collect()
    app.processEvents()
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return Sample(time.perf_counter() - wall, time.process_time() - cpu)


def run_raw(n: int) -> None:
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
    for i in range(n):
        pool.start(Task(emitter, i))
    loop.exec()


_executor: ThreadPoolExecutor | None = None


def run_executor(n: int) -> None:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(QtCore.QThreadPool.globalInstance().maxThreadCount())
    emitter = Emitter()
    _received, loop, got = collector(n)
    emitter.done.connect(got)          # emitted in the executor's threads: queued
    emit = emitter.done.emit

    def task(value: int) -> None:
        emit(tiny(value))

    for i in range(n):
        _executor.submit(task, i)
    loop.exec()


def run_pyqtguard(n: int) -> None:
    from pyqtguard import workers

    _received, loop, got = collector(n)
    for i in range(n):
        worker = workers.Worker(tiny, i)
        worker.returned.connect(got)
        worker.start()
    loop.exec()
    app.processEvents()                      # deliver the last `finished` events


def superqt_available() -> bool:
    try:
        import superqt.utils  # noqa: F401
    except ImportError:
        return False
    return True


def run_superqt(n: int) -> None:
    from superqt.utils import create_worker

    _received, loop, got = collector(n)
    for i in range(n):
        create_worker(tiny, i, _connect={"returned": got})
    loop.exec()


def rss_kb() -> int:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * 4


def ratio_lines(label: str, base: list[Sample], other: list[Sample], target: float | None
                ) -> list[str]:
    bw, ow = [s.wall for s in base], [s.wall for s in other]
    bc, oc = [s.cpu for s in base], [s.cpu for s in other]
    lines = [f"  {label}:",
             "    wall " + ratio_line(bw, ow, target=target or 0.0),
             "    " + cpu_line(bc, oc)]
    if target is None:
        lines[1] = lines[1].replace(" (target <= 0.00; ", " (")
    else:
        lines.append("    " + verdict(bw, ow, bc, oc, target))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--memory-tasks", type=int, default=100_000,
                        help="tasks for the memory check (100,000)")
    args = parser.parse_args()
    variants = {"raw QRunnable + signal": run_raw,
                "ThreadPoolExecutor + signal": run_executor,
                "pyqtguard workers": run_pyqtguard}
    if superqt_available():
        variants["superqt thread_worker"] = run_superqt
    for run in variants.values():
        run(min(500, args.tasks))                       # warm up
    samples = interleave(variants, args.runs, lambda run: timed(lambda: run(args.tasks)))
    raw = samples["raw QRunnable + signal"]
    executor = samples["ThreadPoolExecutor + signal"]
    ours = samples["pyqtguard workers"]
    lines = [f"{args.tasks:,} tiny tasks, one result each to the GUI thread, median of "
             f"{args.runs} interleaved runs each:"]
    for name, values in samples.items():
        lines.append(f"  {name + ':':<29} wall {statistics.median(s.wall for s in values) * 1000:8.1f}"
                     f" ms, CPU {statistics.median(s.cpu for s in values) * 1000:8.1f} ms")
    if "superqt thread_worker" not in samples:
        lines.append("  superqt thread_worker: skipped (superqt not installed)")
    lines += ratio_lines("pyqtguard / raw", raw, ours, 1.00)
    lines += ratio_lines("pyqtguard / ThreadPoolExecutor", executor, ours, 1.00)
    lines += ratio_lines("ThreadPoolExecutor / raw", raw, executor, None)
    if "superqt thread_worker" in samples:
        lines += ratio_lines("superqt / raw", raw, samples["superqt thread_worker"], None)
    print("\n".join(lines), flush=True)
    batch = max(1, args.memory_tasks // 10)
    print(f"memory across {batch * 10:,} tasks through pyqtguard workers (flat):")
    for index in range(10):
        run_pyqtguard(batch)
        gc.collect()
        if index in (0, 4, 9):
            print(f"  after {(index + 1) * batch:>7,} tasks: RSS {rss_kb():>8,} kB")


if __name__ == "__main__":
    main()
