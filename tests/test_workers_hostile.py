"""Hostile cases for the workers API: callbacks that raise BaseException,
Qt signals as callbacks of a deleted receiver, shutdown from odd places,
start-up with a vanishing splash, windows that refuse to close, timeouts
that are not finite."""
from __future__ import annotations

import math
import sys
import time

import pytest
from apprunner import run_app
from PyQt6 import QtCore, QtWidgets

from pyqtguard import workers

app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)


@pytest.fixture(autouse=True)
def fresh_shutdown_state():
    workers._worker._shutdown_began = False
    yield
    workers._worker._shutdown_began = False


@pytest.fixture
def hook_calls():
    seen = []
    previous = sys.excepthook
    sys.excepthook = lambda t, v, tb: seen.append(v)
    yield seen
    sys.excepthook = previous


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_a_callback_raising_a_base_exception_still_gets_finished_delivered(exc_type, hook_calls):
    log = []

    def on_result(value):
        log.append("returned")
        raise exc_type()

    worker = workers.Worker(lambda: 1)
    worker.returned.connect(on_result)
    worker.finished.connect(lambda: log.append("finished"))
    worker.start()
    wait_until(lambda: "finished" in log, timeout=3)
    assert log == ["returned", "finished"]
    assert worker.is_done and worker not in workers.active_workers()
    assert [type(e) for e in hook_calls] == [exc_type]       # reported, not lost


def test_a_qt_signal_of_a_deleted_receiver_as_callback_is_dropped_not_a_crash(tmp_path):
    result = run_app("""
        import threading, time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore, QtWidgets
        from pyqtguard import workers
        app = QtWidgets.QApplication([])
        class Dialog(QtWidgets.QDialog):
            resultReady = QtCore.pyqtSignal(object)
            count = QtCore.pyqtSignal(int)
        dialog = Dialog()
        live = Dialog()
        got = []
        live.resultReady.connect(got.append)
        gate = threading.Event()
        def work(state):
            gate.wait(5)
            state.progress(1)
            return "late"
        worker = workers.Worker(work)
        worker.returned.connect(dialog.resultReady.emit)   # forward into Qt
        worker.returned.connect(dialog.resultReady)          # the bound signal itself
        worker.progress.connect(dialog.count.emit)
        worker.returned.connect(live.resultReady.emit)
        worker.start()
        dialog.deleteLater()
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
        gate.set()
        while not worker.is_done:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        print("finished, live receiver got", got, flush=True)
    """, tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "finished, live receiver got ['late']" in result.stdout, result.describe()


def test_shutdown_from_inside_a_worker_does_not_wait_for_or_name_itself():
    outcome = []

    def closer():
        started = time.monotonic()
        outcome.append((workers.shutdown(timeout=2), time.monotonic() - started))

    worker = workers.Worker(closer, name="closer").start()
    wait_until(lambda: worker.is_done)
    left, elapsed = outcome[0]
    assert left == []
    assert elapsed < 1.0


def test_staged_startup_survives_a_splash_deleted_midway(hook_calls):
    splash = QtWidgets.QSplashScreen()
    done = []
    order = []
    startup = workers.StagedStartup(splash=splash)
    startup.step("one", lambda: order.append("one"))
    startup.step("close the splash", splash.deleteLater)
    startup.step("two", lambda: order.append("two"))
    startup.window(QtWidgets.QMainWindow).on_done(done.append).start()
    wait_until(lambda: done, timeout=3)
    assert order == ["one", "two"]
    assert isinstance(done[0], QtWidgets.QMainWindow) and done[0].isVisible()
    assert hook_calls == []
    done[0].close()


def test_staged_startup_on_done_needs_a_callable():
    with pytest.raises(TypeError, match="callable"):
        workers.StagedStartup().on_done(42)


@pytest.mark.parametrize("timeout", [math.inf, 10**400], ids=["inf", "huge-int"])
def test_shutdown_timeout_must_be_finite(timeout):
    with pytest.raises(ValueError, match="timeout"):
        workers.shutdown(timeout)
    with pytest.raises(ValueError, match="timeout"):
        workers.shutdown_on_close(QtWidgets.QWidget(), timeout)
    assert not workers._worker._shutdown_began


def test_call_in_gui_rejects_nan_and_takes_infinity_as_no_limit():
    with pytest.raises(ValueError, match="timeout"):
        workers.call_in_gui(lambda: 1, timeout=math.nan)
    outcomes = []

    def ask(timeout):
        try:
            outcomes.append(workers.call_in_gui(lambda: "yes", timeout=timeout))
        except Exception as exc:  # noqa: BLE001
            outcomes.append(exc)

    for timeout in (math.nan, math.inf, 1e300):
        worker = workers.Worker(ask, timeout).start()
        wait_until(lambda worker=worker: worker.is_done)
    assert isinstance(outcomes[0], ValueError)
    assert outcomes[1:] == ["yes", "yes"]


@pytest.mark.parametrize("style", ["function", "mixin"])
def test_a_window_that_refuses_to_close_keeps_its_workers(style):
    class Editor(QtWidgets.QMainWindow):
        refuse = True

        def closeEvent(self, event):            # "unsaved changes: Cancel"
            if self.refuse:
                event.ignore()
            else:
                event.accept()

    if style == "mixin":
        class Window(workers.ShutdownOnClose, Editor):
            shutdown_timeout = 2.0
        window = Window()
    else:
        window = Editor()
        workers.shutdown_on_close(window, timeout=2.0)
    window.show()

    def loop(state):
        while not state.cancelled:
            time.sleep(0.005)

    worker = workers.Worker(loop).start()
    assert window.close() is False
    assert not worker._cancel_requested
    assert not workers._worker._shutdown_began
    window.refuse = False
    assert window.close() is True
    assert worker._cancel_requested and workers._worker._shutdown_began
    wait_until(lambda: worker.is_done)


def test_a_gui_call_queued_before_shutdown_fails_fast_instead_of_running():
    ran = []
    outcome = []

    def ask_user():                      # stands in for QMessageBox.exec()
        ran.append(True)
        time.sleep(2)
        return True

    def work():
        try:
            outcome.append(workers.call_in_gui(ask_user, timeout=None))
        except RuntimeError as exc:
            outcome.append(exc)

    worker = workers.Worker(work).start()
    deadline = time.monotonic() + 5
    while not workers._events._queue and time.monotonic() < deadline:
        time.sleep(0.01)                 # the call is queued for the GUI thread
    started = time.monotonic()
    workers.shutdown(timeout=0.5)
    elapsed = time.monotonic() - started
    wait_until(lambda: worker.is_done)
    assert ran == []
    assert elapsed < 1.5
    assert isinstance(outcome[0], RuntimeError) and "shutdown" in str(outcome[0])



WATCHED_FUTURES_APP = """
    import sys, threading
    from concurrent.futures import ThreadPoolExecutor, wait
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    from pyqtguard import workers

    gate = threading.Event()

    def parse_config(path):
        gate.wait(10)
        print("task thread", threading.current_thread().name,
              threading.get_native_id(), flush=True)
        raise ValueError(f"bad config {path}")

    def load_plugin(name):
        raise KeyError(name)

    app = QApplication(sys.argv)
    pool = ThreadPoolExecutor(1, thread_name_prefix="parser")
    early = pool.submit(load_plugin, "spellcheck")
    wait([early])
    jobs = []

    def go():
        jobs.append(workers.watch_future(pool.submit(parse_config, "a.ini")))
        gate.set()
        jobs.append(workers.watch_future(early))          # done before it is watched
        QTimer.singleShot(0, check)

    def check():
        if all(job.is_done for job in jobs):
            app.quit()
        else:
            QTimer.singleShot(20, check)

    QTimer.singleShot(0, go)
    QTimer.singleShot(20000, app.quit)
    print("exec returned", app.exec(), flush=True)
    pool.shutdown()
"""


def test_a_watched_futures_error_nobody_listens_to_names_the_task_thread(tmp_path):
    """A ``watch_future`` future's exception with nothing connected to
    ``errored`` was never reported: the delivery itself raised
    ``AttributeError: 'FutureWorker' object has no attribute '_native_id'``
    in the GUI thread ('MainThread', pyqtguard's frames) and the task's
    ValueError was lost.  The report names the thread the task ran in
    (the executor's 'parser_0', its native id) and its traceback is the
    task's; a future already done when watched names no thread it did not
    run in."""
    result = run_app(WATCHED_FUTURES_APP, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "exec returned 0" in result.stdout, result.describe()
    log = result.log
    assert "AttributeError" not in log, log
    name, native_id = next(line.split()[2:4] for line in result.stdout.splitlines()
                           if line.startswith("task thread"))
    blocks = log.split("\n[")
    parse = next(b for b in blocks if "ValueError: bad config a.ini" in b)
    header = parse.splitlines()[0]
    assert f"in thread '{name}' (native id {native_id}," in header, header
    assert name == "parser_0", name
    assert "in parse_config" in parse and 'raise ValueError(f"bad config {path}")' in parse, parse
    assert "pyqtguard/workers" not in parse and "deliver_queued" not in parse, parse
    plugin = next(b for b in blocks if "KeyError: 'spellcheck'" in b)
    header = plugin.splitlines()[0]
    assert "'MainThread'" not in header and "in load_plugin" in plugin, plugin
    assert "pyqtguard/workers" not in plugin, plugin


@pytest.mark.parametrize("installed", [False, True], ids=["without install", "installed"])
def test_a_dedicated_qthread_worker_dropped_once_finished_never_aborts_the_app(tmp_path, installed):
    # The worker and its QThread hold each other: once `finished` was
    # delivered and the app let go of the worker, the garbage collector could
    # delete the QThread while its run() was still returning - Qt then aborts
    # the app ("QThread: Destroyed while thread 'worker-4:work' is still
    # running").  install()'s registry kept QThreads alive until their end;
    # the workers API is meant to be safe without it.
    result = run_app(f"""
        import gc, sys
        {"import pyqtguard; pyqtguard.install()" if installed else ""}
        from PyQt6.QtCore import QTimer
        from PyQt6.QtWidgets import QApplication
        from pyqtguard import workers
        app = QApplication(sys.argv)
        total, chains = 600, 4
        done = [0]
        live = set()

        def next_worker():
            if done[0] >= total:
                if not live and not app.property("quitting"):
                    app.setProperty("quitting", True)
                    print("all done", flush=True)
                    app.quit()
                return
            w = workers.Worker(lambda: 1, use_qthread=True)
            w.finished.connect(on_finished)
            live.add(w)
            w.start()

        def on_finished():
            done[0] += 1
            for w in [w for w in live if w.is_done]:
                live.discard(w)              # the app lets go of a finished worker
            QTimer.singleShot(0, collect_then_next)

        def collect_then_next():
            gc.collect()
            next_worker()

        for _ in range(chains):
            QTimer.singleShot(0, next_worker)
        app.exec()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "all done" in result.stdout, result.describe()
    assert "wait on itself" not in result.stderr, result.describe()


def test_workers_started_off_the_gui_thread_deliver_their_events(tmp_path):
    # The first worker of the process made in a plain thread: the delivery
    # hub's slot was a plain callable, which PyQt calls through a proxy made
    # in the connecting thread; moving the hub to the GUI thread left the
    # proxy behind, in a thread with no loop - no worker's events (this
    # one's, and every later one's, made anywhere) were ever delivered.
    result = run_app("""
        import sys, threading
        import pyqtguard
        pyqtguard.install(stderr=False)
        from PyQt6 import QtCore
        from pyqtguard import workers
        app = QtCore.QCoreApplication(sys.argv)
        got = []
        keep = []

        def make(tag, fn, **options):
            worker = workers.Worker(fn, **options)
            worker.returned.connect(lambda value: got.append(f"{tag}:{value}"))
            worker.finished.connect(lambda: got.append(f"{tag}:finished"))
            worker.finished.connect(lambda: len(got) == 8 and app.quit())
            keep.append(worker.start())

        def outer():
            make("nested", lambda: 3)        # a worker started by a worker
            return "outer"

        def from_a_plain_thread():
            make("plain", lambda: 1)
            make("qthread", lambda: 2, use_qthread=True)

        thread = threading.Thread(target=from_a_plain_thread)
        thread.start()
        thread.join()
        make("outer", outer)                 # the GUI thread's
        QtCore.QTimer.singleShot(10000, app.quit)
        app.exec()
        print(sorted(got))
    """, tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert ("['nested:3', 'nested:finished', 'outer:finished', 'outer:outer', 'plain:1', "
            "'plain:finished', 'qthread:2', 'qthread:finished']") in result.stdout, result.describe()


def test_a_qt_signal_itself_connected_to_an_event_is_emitted(tmp_path):
    # `worker.returned.connect(window.loaded)`, as Qt code connects a signal
    # to a signal: accepted, then every delivery reported "TypeError: native
    # Qt signal is not callable" instead of emitting it.
    result = run_app("""
        import sys
        import pyqtguard
        pyqtguard.install(stderr=False)
        from PyQt6 import QtCore
        from pyqtguard import workers
        app = QtCore.QCoreApplication(sys.argv)

        class Window(QtCore.QObject):
            loaded = QtCore.pyqtSignal(object)
            done = QtCore.pyqtSignal()

        window = Window()
        got = []
        window.loaded.connect(got.append)
        window.done.connect(app.quit)
        worker = workers.Worker(lambda: 42)
        worker.returned.connect(window.loaded)
        worker.finished.connect(window.done)
        worker.start()
        QtCore.QTimer.singleShot(10000, app.quit)
        app.exec()
        print("got", got)
    """, tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "got [42]" in result.stdout, result.describe()
    assert "not callable" not in result.log, result.describe()
