"""Worker results reach the GUI thread in batches: one Qt event per
event-loop turn, however many workers finished meanwhile (issue 21)."""
from __future__ import annotations

import sys
import time

from PyQt6 import QtCore, QtWidgets

from pyqtguard import workers
from pyqtguard.workers import _events

app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


class HubWakeUps:
    """Counts the hub's deliveries in the GUI thread: each is one queued Qt
    signal received (the hub's ``_deliver`` slot), whatever it carries."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, frame, event, arg):
        if (event == "call" and frame.f_code.co_name == "_deliver"
                and frame.f_code.co_filename.endswith("_events.py")):
            self.count += 1


def test_a_thousand_results_finished_meanwhile_cost_one_qt_event():
    _events.hub()
    app.processEvents()                          # nothing pending from other tests
    counter = HubWakeUps()
    sys.setprofile(counter)                      # this (the GUI) thread only
    try:
        received = []
        started = []
        for i in range(1000):
            worker = workers.Worker(lambda n=i: n)
            worker.returned.connect(received.append)
            started.append(worker.start())
        deadline = time.monotonic() + 30
        # The GUI thread turns no event loop meanwhile: every result waits.
        while not all(w._status == "done" for w in started):
            assert time.monotonic() < deadline, "workers did not run"
            time.sleep(0.01)
        app.processEvents()
        app.processEvents()
        assert sorted(received) == list(range(1000))
        assert all(w.is_done for w in started)
        assert counter.count <= 2, f"{counter.count} Qt events for 1000 results"
    finally:
        sys.setprofile(None)


def test_results_posted_during_a_delivery_come_in_order_on_the_next_turn():
    order = []
    first = workers.Worker(lambda: "first")
    second = workers.Worker(lambda: "second")
    second.returned.connect(order.append)

    def on_first(value):
        order.append(value)
        # Posted while the first batch is being delivered: delivered after it.
        _events.post(second, "returned", "posted during delivery")

    first.returned.connect(on_first)
    first.start()
    deadline = time.monotonic() + 10
    while not first.is_done:
        assert time.monotonic() < deadline
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
    app.processEvents()
    assert order == ["first", "posted during delivery"]


def test_cancelling_while_runners_take_work_gives_each_worker_one_ending():
    ran = []
    endings = {}
    started = []
    for i in range(2000):
        worker = workers.Worker(ran.append, i)
        for name in ("returned", "cancelled", "finished"):
            getattr(worker, name).connect(
                lambda *a, i=i, name=name: endings.setdefault(i, []).append(name))
        started.append(worker.start())
    for worker in started[::2]:
        worker.cancel()                     # queued, running or done: whichever it is now
    deadline = time.monotonic() + 30
    while not all(w.is_done for w in started):
        assert time.monotonic() < deadline, "workers did not finish"
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
    assert sorted(endings) == list(range(2000))
    for i, names in endings.items():
        assert names in (["returned", "finished"], ["cancelled", "finished"]), (i, names)
        if names[0] == "returned":
            assert i in ran, i
    never_ran = {i for i, names in endings.items() if names[0] == "cancelled"} - set(ran)
    assert all(i % 2 == 0 for i in never_ran)
    assert len(ran) == len(set(ran))        # none ran twice
