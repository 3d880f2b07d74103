"""The error notification's speed (issue 22), offscreen.

1. Latency: from an exception raised in a slot (the signal emitted in the
   GUI thread) to the notification shown (its Show event), median and worst
   over --runs runs (each a different exception: repeat_interval=0).
2. The GUI thread's longest block while 1,000 exceptions raised in worker
   threads arrive: a 1 ms timer in the GUI thread notes each tick; the
   longest gap between ticks is the longest time the GUI thread could not
   turn its event loop (target: no block over 16 ms, one frame at 60 Hz).
3. The scrubber over 200 KB of hostile text (no backtracking blow-up).

    QT_QPA_PLATFORM=offscreen python benchmarks/dialogs.py [--runs 30]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--flood", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["PYQTGUARD_LOG_DIR"] = tempfile.mkdtemp(prefix="pyqtguard-bench-")

    import pyqtguard
    import pyqtguard.dialogs

    pyqtguard.install(app_name="bench", dialogs=True, repeat_interval=0, stderr=False)
    from PyQt6.QtCore import QEvent, QObject, QTimer, pyqtSignal
    from PyQt6.QtWidgets import QApplication

    from pyqtguard.dialogs import notification

    app = QApplication(sys.argv)
    shown: list[float] = []

    class ShowWatch(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Show and isinstance(obj, notification.ErrorNotification):
                shown.append(time.perf_counter())
            return False

    watch = ShowWatch()
    app.installEventFilter(watch)

    class Source(QObject):
        fire = pyqtSignal(int)

    def slot(n: int) -> None:
        raise ValueError(f"benchmark error {n}")

    source = Source()
    source.fire.connect(slot)
    latencies: list[float] = []

    def one_run(n: int) -> None:
        shown.clear()
        start = time.perf_counter()
        source.fire.emit(n)
        deadline = start + 5
        while not shown and time.perf_counter() < deadline:
            app.processEvents()
        if shown:
            latencies.append((shown[0] - start) * 1000)
        notification.notifier().dismiss()
        app.processEvents()

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def flood() -> None:
        def fail(i: int) -> None:
            raise KeyError(f"flood {i}")

        for i in range(args.flood):
            thread = threading.Thread(target=fail, args=(i,), name=f"flood-{i % 8}")
            thread.start()
            thread.join()

    def flood_block() -> float:
        """The longest gap between 1 ms timer ticks while the flood arrives."""
        ticks.clear()
        timer.start()
        worker = threading.Thread(target=flood, name="flooder")
        worker.start()
        while worker.is_alive():
            app.processEvents()
            time.sleep(0.0005)
        deadline = time.perf_counter() + 10
        target = notification.notifier()
        while (target.total < args.flood and pyqtguard.dialogs._enabled
               and time.perf_counter() < deadline):
            app.processEvents()
        end = time.perf_counter() + 0.2
        while time.perf_counter() < end:    # callbacks still queued
            app.processEvents()
        timer.stop()
        gaps = [(b - a) * 1000 for a, b in zip(ticks, ticks[1:])]
        return max(gaps) if gaps else float("nan")

    def run_all() -> None:
        # The app has just started: the dialogs' warm-up thread (started with
        # the event loop) runs while the user looks at the window.
        for thread in threading.enumerate():
            if thread.name == "pyqtguard-dialogs-warm-up":
                while thread.is_alive():
                    app.processEvents()
                    thread.join(0.01)
        for n in range(args.runs):
            one_run(n)
        with_dialogs = flood_block()
        folded = notification.notifier().total
        windows = sum(1 for w in app.topLevelWidgets()
                      if isinstance(w, notification.ErrorNotification))
        notification.notifier().dismiss()
        pyqtguard.show_error_notifications(False)
        without = flood_block()
        report(folded, windows, with_dialogs, without)
        app.quit()

    def report(folded: int, windows: int, with_dialogs: float, without: float) -> None:
        print(f"exception in a slot -> notification shown: median "
              f"{statistics.median(latencies):.1f} ms, worst {max(latencies):.1f} ms "
              f"({len(latencies)} runs)")
        print(f"{args.flood} exceptions from worker threads: GUI thread's longest block "
              f"{with_dialogs:.1f} ms with the notification (target <= 16 ms), "
              f"{without:.1f} ms without it (pyqtguard's hooks only); "
              f"notification windows: {windows}, folded count: {folded}")
        from pyqtguard.reporting.scrub import Scrubber

        scrub = Scrubber()
        for name, text in (("a.a.a.", "a." * 100_000), ("a@a@", "a@" * 100_000),
                           ("password=", "password=" * 22_000)):
            start = time.perf_counter()
            scrub(text[:200_000])
            print(f"scrubber, 200 KB of {name!r}: {(time.perf_counter() - start) * 1000:.0f} ms")

    QTimer.singleShot(0, run_all)
    app.exec()


if __name__ == "__main__":
    main()
