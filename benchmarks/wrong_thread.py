"""What ``install(check_threads=True)`` costs a worker thread.

One process, pyqtguard installed with the check on; a worker thread's own
CPU time (``time.thread_time``) for the same work in a thread started
before the check was turned on (unchecked) and one started after (checked),
alternating, median of the rounds.  Two kinds of work: a loop of nothing
but C function calls (the worst case: the check looks at each one) and a
worker's usual mix (parsing JSON, sorting, string formatting).  The GUI
thread is never checked.  No target: a debugging aid, off by default; the
figures say what it costs while on.

    QT_QPA_PLATFORM=offscreen python benchmarks/wrong_thread.py [--rounds 7]
"""
from __future__ import annotations

import argparse
import json
import statistics
import threading
import time


def c_calls(n: int) -> None:
    items = [3, 1, 2]
    for _ in range(n):
        len(items)
        isinstance(items, list)
        abs(-1)


def usual_mix(n: int) -> None:
    text = json.dumps([{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(50)])
    for _ in range(n // 500):
        rows = json.loads(text)
        rows.sort(key=lambda row: row["name"])
        ", ".join(f"{row['id']}:{row['name']}" for row in rows)


def thread_cpu(work, n: int) -> float:
    spent: list[float] = []

    def run() -> None:
        start = time.thread_time()
        work(n)
        spent.append(time.thread_time() - start)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return spent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300_000)
    args = parser.parse_args()
    import pyqtguard
    from pyqtguard import _native
    from pyqtguard.qt import wrongthread

    pyqtguard.install(check_threads=True)
    from PyQt6 import QtWidgets

    app = QtWidgets.QApplication([])
    assert app is not None
    print(f"a worker thread's CPU time, median of {args.rounds} rounds, "
          "checked / unchecked:")
    for name, work in (("C calls only (worst case)", c_calls),
                       ("usual mix (json, sort, format)", usual_mix)):
        plain, checked = [], []
        for _ in range(args.rounds):
            _native.check_widget_threads(None, None)       # threads started now: unchecked
            plain.append(thread_cpu(work, args.calls))
            wrongthread._start_checking(QtWidgets)        # and now: checked
            checked.append(thread_cpu(work, args.calls))
        ratio = statistics.median(checked) / statistics.median(plain)
        print(f"  {name:<32} {statistics.median(plain) * 1e3:8.1f} ms -> "
              f"{statistics.median(checked) * 1e3:8.1f} ms   ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
