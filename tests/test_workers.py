"""Guarded workers, in-process with a real QApplication and a real pool."""
from __future__ import annotations

import sys
import threading
import time

import pytest
from PyQt6 import QtCore, QtWidgets

from pyqtguard import workers

app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)


def record(worker):
    """(event, payload, thread is GUI) for every event of *worker*."""
    log = []
    gui = threading.current_thread()
    for name in workers._worker.EVENTS:
        getattr(worker, name).connect(
            lambda *a, name=name: log.append((name, a[0] if a else None,
                                              threading.current_thread() is gui)))
    return log


@pytest.fixture(autouse=True)
def fresh_shutdown_state():
    workers._worker._shutdown_began = False
    yield
    workers._worker._shutdown_began = False


def test_function_worker_events_in_order_in_the_gui_thread():
    def add(a, b):
        return a + b

    worker = workers.Worker(add, 2, 3)
    log = record(worker)
    worker.start()
    wait_until(lambda: worker.is_done)
    assert log == [("started", None, True), ("returned", 5, True), ("finished", None, True)]


def test_generator_worker_yields_then_returns():
    def count(n):
        for i in range(n):
            yield i
        return "counted"

    worker = workers.Worker(count, 3)
    log = record(worker)
    worker.start()
    wait_until(lambda: worker.is_done)
    assert [e[:2] for e in log] == [("started", None), ("yielded", 0), ("yielded", 1),
                                    ("yielded", 2), ("returned", "counted"),
                                    ("finished", None)]


def test_progress_through_state():
    def work(state):
        for i in range(3):
            state.progress(i * 50)
        return "ok"

    worker = workers.Worker(work)
    log = record(worker)
    worker.start()
    wait_until(lambda: worker.is_done)
    assert [e[:2] for e in log] == [("started", None), ("progress", 0), ("progress", 50),
                                    ("progress", 100), ("returned", "ok"), ("finished", None)]


@pytest.mark.parametrize("error", [ValueError("bad value"), RuntimeError("a user error")])
def test_errors_reach_errored_then_finished(error):
    def fail():
        raise error

    worker = workers.Worker(fail)
    log = record(worker)
    worker.start()
    wait_until(lambda: worker.is_done)
    assert [e[0] for e in log] == ["started", "errored", "finished"]
    assert log[1][1] is error and log[1][1].__traceback__ is not None


def test_error_in_a_generator_including_runtime_error():
    def gen():
        yield 1
        raise RuntimeError("generator failed")

    worker = workers.Worker(gen)
    log = record(worker)
    worker.start()
    wait_until(lambda: worker.is_done)
    assert [e[0] for e in log] == ["started", "yielded", "errored", "finished"]
    assert str(log[2][1]) == "generator failed"


def test_unheard_error_goes_to_the_exception_hook():
    seen = []
    previous = sys.excepthook
    sys.excepthook = lambda t, v, tb: seen.append(v)
    try:
        worker = workers.Worker(lambda: 1 / 0)
        worker.start()
        wait_until(lambda: worker.is_done)
    finally:
        sys.excepthook = previous
    assert len(seen) == 1 and isinstance(seen[0], ZeroDivisionError)


def test_cancel_a_running_generator_at_its_next_yield():
    started = threading.Event()

    def endless():
        started.set()
        while True:
            time.sleep(0.01)
            yield

    worker = workers.Worker(endless)
    log = record(worker)
    worker.start()
    assert started.wait(5)
    worker.cancel()
    wait_until(lambda: worker.is_done)
    assert [e[0] for e in log if e[0] != "yielded"] == ["started", "cancelled", "finished"]


def test_cancel_a_running_function_through_its_state():
    def careful(state):
        while not state.cancelled:
            time.sleep(0.01)
        return "stopped early"

    worker = workers.Worker(careful).start()
    log = record(worker)
    time.sleep(0.05)
    worker.cancel()
    wait_until(lambda: worker.is_done)
    assert [e[0] for e in log][-2:] == ["cancelled", "finished"]


def test_cancel_a_queued_worker_takes_it_off_the_queue():
    pool = QtCore.QThreadPool.globalInstance()
    gate = threading.Event()
    blockers = [workers.Worker(gate.wait, 10).start() for _ in range(pool.maxThreadCount())]
    ran = []
    queued = workers.Worker(lambda: ran.append(1))
    log = record(queued)
    queued.start()
    queued.cancel()
    gate.set()
    wait_until(lambda: queued.is_done and all(b.is_done for b in blockers))
    assert ran == []
    assert [e[0] for e in log] == ["cancelled", "finished"]


def test_cancelling_a_finished_worker_is_a_no_op_and_start_twice_is_an_error():
    worker = workers.Worker(lambda: 1).start()
    wait_until(lambda: worker.is_done)
    worker.cancel()
    with pytest.raises(ValueError, match="already started"):
        worker.start()


def test_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        workers.Worker("not callable")
    with pytest.raises(TypeError, match="timeout"):
        workers.shutdown(timeout="soon")
    with pytest.raises(ValueError, match="timeout"):
        workers.shutdown(timeout=-1)


def test_events_for_a_deleted_widget_are_dropped_quietly():
    label = QtWidgets.QLabel()
    errors = []
    previous = sys.excepthook
    sys.excepthook = lambda t, v, tb: errors.append(v)
    try:
        gate = threading.Event()
        worker = workers.Worker(lambda: (gate.wait(5), "late")[1])
        worker.returned.connect(label.setText)                 # bound method
        worker.returned.connect(lambda text: label.setText(text))  # lambda
        worker.start()
        label.deleteLater()
        app.processEvents()
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
        gate.set()
        wait_until(lambda: worker.is_done)
    finally:
        sys.excepthook = previous
    assert errors == []


def test_dedicated_qthread():
    def where():
        return threading.current_thread().name

    worker = workers.Worker(where, use_qthread=True)
    log = record(worker)
    worker.start()
    wait_until(lambda: worker.is_done)
    assert [e[0] for e in log] == ["started", "returned", "finished"]


def test_decorator_returns_a_started_worker():
    @workers.thread_worker
    def double(x):
        return 2 * x

    worker = double(21)
    results = []
    worker.returned.connect(results.append)
    wait_until(lambda: worker.is_done)
    assert results == [42]


def test_shutdown_reports_a_worker_that_ignores_cancellation_and_returns_in_time():
    stop = threading.Event()

    def stubborn():
        stop.wait(30)

    worker = workers.Worker(stubborn, name="stubborn-export").start()
    time.sleep(0.05)
    started = time.monotonic()
    left = workers.shutdown(timeout=0.5)
    elapsed = time.monotonic() - started
    stop.set()
    wait_until(lambda: worker.is_done)
    assert left == ["stubborn-export"]
    assert elapsed < 1.5
    with pytest.raises(RuntimeError, match="shutdown"):
        workers.Worker(lambda: 1).start()


def test_call_in_gui_returns_raises_and_fails_fast_after_shutdown():
    gui = threading.current_thread()
    outcomes = []

    def ask(question):
        assert threading.current_thread() is gui
        return f"yes to {question}"

    def refuse():
        raise PermissionError("the user said no")

    def work():
        outcomes.append(workers.call_in_gui(ask, "overwrite?", timeout=5))
        try:
            workers.call_in_gui(refuse, timeout=5)
        except PermissionError as exc:
            outcomes.append(f"raised {exc}")
        return "done"

    worker = workers.Worker(work).start()
    wait_until(lambda: worker.is_done)
    assert outcomes == ["yes to overwrite?", "raised the user said no"]
    assert workers.call_in_gui(ask, "direct") == "yes to direct"   # from the GUI thread
    workers._worker._shutdown_began = True
    failures = []
    thread = threading.Thread(target=lambda: failures.append(
        pytest.raises(RuntimeError, workers.call_in_gui, ask, "late")))
    thread.start()
    thread.join(5)
    assert failures and not thread.is_alive()


def test_call_in_gui_times_out():
    def slow():
        time.sleep(0.3)

    errors = []

    def work():
        try:
            workers.call_in_gui(slow, timeout=0.05)
        except TimeoutError as exc:
            errors.append(exc)

    worker = workers.Worker(work).start()
    wait_until(lambda: worker.is_done)
    assert len(errors) == 1


def _square(n):
    return n * n


def _die(n):
    import os

    os._exit(7)


def test_futures_of_a_process_pool_and_a_broken_pool():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        job = workers.watch_future(pool.submit(_square, 7))
        log = record(job)
        wait_until(lambda: job.is_done, timeout=60)
    assert [e[:2] for e in log][1:] == [("returned", 49), ("finished", None)]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        job = workers.watch_future(pool.submit(_die, 1))
        log = record(job)
        wait_until(lambda: job.is_done, timeout=60)
    assert [e[0] for e in log][1:] == ["errored", "finished"]
    assert isinstance(log[1][1], BrokenProcessPool)


def test_staged_startup_splash_steps_window_and_a_failing_step():
    order = []
    splash = QtWidgets.QSplashScreen()

    def failing():
        order.append("failing")
        raise OSError("plugin folder missing")

    class Main(QtWidgets.QMainWindow):
        def __init__(self):
            super().__init__()
            order.append("window")

    seen = []
    previous = sys.excepthook
    sys.excepthook = lambda t, v, tb: seen.append(v)
    try:
        startup = workers.StagedStartup(splash=splash)
        startup.step("plugins", failing).step("project", lambda: order.append("project"))
        startup.window(Main).start()
        assert order == []                      # nothing before the event loop turns
        wait_until(lambda: startup.main_window is not None)
    finally:
        sys.excepthook = previous
    assert order == ["failing", "project", "window"]
    assert [str(e) for e in seen] == ["plugin folder missing"]
    assert not splash.isVisible() and startup.main_window.isVisible()
    startup.main_window.close()


def test_staged_startup_without_splash_and_before_an_app_exists_message():
    startup = workers.StagedStartup()
    done = []
    startup.step("only", lambda: None).on_done(done.append).start()
    wait_until(lambda: done)
    assert done == [None]
    with pytest.raises(TypeError, match="callable"):
        startup.step("bad", 42)
