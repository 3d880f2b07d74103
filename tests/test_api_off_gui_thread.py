"""The public API called from threads other than the GUI thread: plain
threads, pool threads, workers - and the first call of each made there
(what pyqtguard makes lazily then gets that thread's affinity).

Each case is a real app in a subprocess (tests/apprunner.py), no mocks.
"""
from __future__ import annotations

import pytest
from apprunner import run_app


def test_quit_stops_workers_when_the_first_worker_started_in_a_plain_thread(tmp_path):
    # The app's first worker (under its QApplication) connects aboutToQuit
    # to pyqtguard's shutdown.  Connected from a plain thread, PyQt's proxy
    # for the plain function stayed in that thread, which runs no loop: the
    # handler never ran - the worker was left running at quit, and with the
    # app a local of main() its destructor waited for the pool for good.
    result = run_app("""
        import sys, threading, time
        import pyqtguard
        pyqtguard.install(stderr=False, exit_timeout=None)
        from PyQt6 import QtCore
        from pyqtguard import workers
        got = []

        def loop(state):
            while not state.cancelled:
                time.sleep(0.01)
            return "stopped"

        def main():
            app = QtCore.QCoreApplication(sys.argv)

            def start():
                worker = workers.Worker(loop)
                worker.cancelled.connect(lambda: got.append("cancelled"))
                worker.finished.connect(lambda: got.append("finished"))
                worker.start()

            thread = threading.Thread(target=start)
            thread.start()
            thread.join()
            QtCore.QTimer.singleShot(300, app.quit)
            code = app.exec()
            print("after exec:", got, len(workers.active_workers()), flush=True)
            return code

        main()
        print("main returned", flush=True)
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "after exec: ['cancelled', 'finished'] 0" in result.stdout, result.describe()
    assert "main returned" in result.stdout, result.describe()


def test_dedicated_qthreads_started_in_a_lasting_thread_are_deleted(tmp_path):
    # A use_qthread worker's QThread is deleted once finished (deleteLater).
    # Made in a thread that lives on and runs no loop (an executor's, a
    # pool's), the deleteLater was queued to that thread: never run - each
    # QThread, its wrapper and its worker leaked.
    result = run_app("""
        import sys, threading
        import pyqtguard
        pyqtguard.install(stderr=False)
        from PyQt6 import QtCore, sip
        from pyqtguard import workers
        app = QtCore.QCoreApplication(sys.argv)
        N = 10
        threads, finished = [], []
        release = threading.Event()

        def on_finished():
            finished.append(1)
            if len(finished) == N:
                QtCore.QTimer.singleShot(300, app.quit)

        def starter():
            for _ in range(N):
                worker = workers.Worker(lambda: 1, use_qthread=True)
                worker.finished.connect(on_finished)
                worker.start()
                threads.append(worker._thread)
            release.wait()               # lives on, as an executor's thread

        thread = threading.Thread(target=starter)
        thread.start()
        QtCore.QTimer.singleShot(10000, app.quit)
        app.exec()
        print("finished", len(finished), "deleted", sum(sip.isdeleted(t) for t in threads),
              flush=True)
        release.set()
        thread.join()
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "finished 10 deleted 10" in result.stdout, result.describe()


def test_shutdown_called_off_the_gui_thread_makes_qt_warn_nothing(tmp_path):
    # shutdown() installed its quit hold-back filter on the application
    # from the calling thread: "QObject::installEventFilter(): Cannot filter
    # events for objects in a different thread."
    result = run_app("""
        import sys, threading, time
        import pyqtguard
        pyqtguard.install(stderr=False)
        from PyQt6 import QtCore
        from pyqtguard import workers
        app = QtCore.QCoreApplication(sys.argv)
        got = []

        def loop(state):
            while not state.cancelled:
                time.sleep(0.01)

        worker = workers.Worker(loop)
        worker.cancelled.connect(lambda: got.append("cancelled"))
        worker.start()

        def stop():
            got.append(pyqtguard.shutdown(timeout=3))

        def stop_from_a_worker():
            time.sleep(0.1)
            stop()

        workers.Worker(stop_from_a_worker).start()
        QtCore.QTimer.singleShot(500, lambda: threading.Thread(target=stop).start())
        QtCore.QTimer.singleShot(1000, app.quit)
        app.exec()
        print("got", sorted(map(str, got)), flush=True)
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "got ['[]', '[]', 'cancelled']" in result.stdout, result.describe()
    assert "QObject" not in result.stderr, result.describe()
    assert "different thread" not in result.stderr + result.log, result.describe()


def test_staged_startup_started_off_the_gui_thread_is_refused(tmp_path):
    # start() from another thread set a QTimer there: it never fired (no
    # loop), and the start-up silently never ran.
    result = run_app("""
        import sys, threading
        import pyqtguard
        pyqtguard.install(stderr=False)
        from PyQt6 import QtCore
        from pyqtguard import workers
        app = QtCore.QCoreApplication(sys.argv)
        startup = workers.StagedStartup().step("one", lambda: print("step ran"))
        errors = []

        def start():
            try:
                startup.start()
            except RuntimeError as exc:
                errors.append(str(exc))

        thread = threading.Thread(target=start)
        thread.start()
        thread.join()
        print("refused:", errors, flush=True)
        startup.start()                  # the GUI thread's start still works
        QtCore.QTimer.singleShot(300, app.quit)
        app.exec()
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "refused: ['StagedStartup.start() must be called in the GUI thread" in result.stdout, \
        result.describe()
    assert "step ran" in result.stdout, result.describe()


def test_dedicated_qthread_deleted_before_the_registry_lets_go_is_no_error(tmp_path):
    # Found on the way (GUI thread): the registry's release of a finished
    # QThread, posted to the GUI thread from its `finished`, came after the
    # worker's deleteLater had destroyed it, about one run in two (the
    # first post makes the GUI bridge, slowly): "RuntimeError: wrapped C/C++
    # object of type _WorkerThread has been deleted" from pyqtguard's code.
    # Once per process at most: four processes.
    source = """
        import sys
        import pyqtguard
        pyqtguard.install(repeat_interval=0)
        from PyQt6 import QtCore
        from pyqtguard import workers
        app = QtCore.QCoreApplication(sys.argv)
        N = 20
        done, keep = [], []

        def on_finished():
            done.append(1)
            if len(done) == N:
                QtCore.QTimer.singleShot(300, app.quit)

        def start_all():
            for _ in range(N):
                worker = workers.Worker(lambda: 1, use_qthread=True)
                worker.finished.connect(on_finished)
                keep.append(worker.start())     # the app keeps its workers

        QtCore.QTimer.singleShot(0, start_all)
        QtCore.QTimer.singleShot(20000, app.quit)
        app.exec()
        print("finished", len(done), flush=True)
    """
    for run in range(4):
        folder = tmp_path / str(run)
        folder.mkdir()
        result = run_app(source, folder, timeout=60)
        assert result.returncode == 0, result.describe()
        assert "finished 20" in result.stdout, result.describe()
        assert "Traceback" not in result.stderr + result.log, result.describe()


@pytest.mark.parametrize("install", ["pyqtguard.install(stderr=False, exit_timeout=5)", "pass"],
                         ids=["installed", "workers-only"])
def test_a_gui_call_waiting_when_the_interpreter_exits_fails_instead_of_hanging(tmp_path, install):
    # A plain thread keeps asking the GUI thread (`timeout=None`) as the
    # event loop ends and the interpreter exits: no loop will ever answer
    # the call then, and threading's join at exit waited for the thread for
    # good - the exit deadline ended the app with 124.  Calls now fail at the
    # interpreter's exit (RuntimeError), the thread ends, the app too.
    result = run_app(f"""
        import sys, threading, time
        import pyqtguard
        {install}
        from PyQt6 import QtCore
        from pyqtguard import workers
        app = QtCore.QCoreApplication(sys.argv)

        def poll():
            answers = 0
            try:
                while True:
                    workers.call_in_gui(lambda: None, timeout=None)
                    answers += 1
                    time.sleep(0.001)
            except RuntimeError as exc:
                print("refused after", "some" if answers else "no", "answers:", exc, flush=True)

        QtCore.QTimer.singleShot(0, lambda: threading.Thread(target=poll, name="poller").start())
        QtCore.QTimer.singleShot(300, app.quit)
        app.exec()
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "refused after some answers: the interpreter is exiting" in result.stdout, \
        result.describe()
    assert "exit timeout" not in result.log, result.describe()


def test_a_pool_thread_waiting_on_the_gui_at_exit_fails_whatever_the_import_order(tmp_path):
    # threading runs its exit callbacks last registered first, and
    # concurrent.futures' joins its pool threads: registered after
    # pyqtguard's (its module imported after the app's first call from a
    # thread), it joined a pool thread waiting for the GUI thread before
    # pyqtguard's could fail that call - the exit held until its deadline.
    result = run_app("""
        import sys, threading, time
        import pyqtguard
        pyqtguard.install(stderr=False, exit_timeout=5)
        from PyQt6 import QtCore
        from pyqtguard import workers
        app = QtCore.QCoreApplication(sys.argv)
        first = threading.Thread(target=lambda: workers.call_in_gui(lambda: None))
        QtCore.QTimer.singleShot(0, first.start)
        QtCore.QTimer.singleShot(300, app.quit)
        app.exec()
        first.join()
        assert "concurrent.futures.thread" not in sys.modules
        from concurrent.futures import ThreadPoolExecutor

        def late():
            try:
                workers.call_in_gui(lambda: None, timeout=None)
            except RuntimeError as exc:
                print("refused:", exc, flush=True)

        ThreadPoolExecutor(1).submit(late)
        time.sleep(0.2)
    """, tmp_path, timeout=30)
    assert result.returncode == 0, result.describe()
    assert "refused: the interpreter is exiting" in result.stdout, result.describe()
    assert "exit timeout" not in result.log, result.describe()
