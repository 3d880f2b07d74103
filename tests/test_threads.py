"""The thread registry, thread dumps (in-process, by signal, by `pyqtguard
dump PID`) and GUI freeze detection."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from apprunner import child_env, run_app


def test_threads_lists_python_qthread_pool_and_native_threads(tmp_path):
    result = run_app("""
        import ctypes, threading, time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        stop = threading.Event()
        def index_files():
            stop.wait()
        threading.Thread(target=index_files, name="indexer", daemon=True).start()
        class Preview(QtCore.QThread):
            def run(self):
                stop.wait()
        preview = Preview()
        preview.setObjectName("preview")
        preview.start()
        class Task(QtCore.QRunnable):
            def run(self):
                stop.wait()
        QtCore.QThreadPool.globalInstance().start(Task())
        libc = ctypes.CDLL(None)
        native = ctypes.c_ulong()
        libc.pthread_create(ctypes.byref(native), None, libc.sleep, ctypes.c_void_p(30))
        libc.pthread_setname_np(native, b"blas-worker")
        time.sleep(0.3)
        for t in pyqtguard.threads(stacks=True):
            print("T", t.name, t.kind, t.native_id, t.ident is not None, t.daemon,
                  t.started_at, "index_files" in (t.stack or ""), sep="|")
        stop.set()
        preview.wait()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    rows = {line.split("|")[1]: line.split("|")
            for line in result.stdout.splitlines() if line.startswith("T|")}
    assert rows["MainThread"][2] == "main"
    indexer = rows["indexer"]
    assert indexer[2] == "python" and indexer[5] == "True"
    assert indexer[6].endswith("app.py:10") and indexer[7] == "True"
    assert rows["preview"][2] == "qthread" and rows["preview"][6].endswith("app.py:16")
    assert rows["Thread (pooled)"][2] == "pool"
    assert rows["blas-worker"][2] == "native" and rows["blas-worker"][4] == "False"
    assert not any(name.startswith("pyqtguard") for name in rows)


def test_worker_object_qthread_is_listed_as_a_qthread_while_it_works(tmp_path):
    # thread.started.connect(worker.run): the work runs inside `started`,
    # before pyqtguard's own slot there can tell the thread's native id.
    result = run_app("""
        import threading
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        working, stop = threading.Event(), threading.Event()
        class Trainer(QtCore.QObject):
            def run(self):
                working.set()
                train()
        def train():
            stop.wait()
        thread = QtCore.QThread()
        thread.setObjectName("model-trainer")
        trainer = Trainer()
        trainer.moveToThread(thread)
        thread.started.connect(trainer.run)
        thread.start()
        working.wait()
        for t in pyqtguard.threads(stacks=True):
            print("T", t.name, t.kind, t.started_at, "in train" in (t.stack or ""), sep="|")
        stop.set()
        thread.quit()
        thread.wait()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("T|")]
    trainer = [row for row in rows if row[1] == "model-trainer"]
    assert len(trainer) == 1, rows
    assert trainer[0][2] == "qthread" and trainer[0][3].endswith("app.py:19"), trainer
    assert trainer[0][4] == "True", trainer


QTHREAD_SITE_APP = """
    import pyqtguard
    {before}
    pyqtguard.install()
    from PyQt6 import QtCore
    from pyqtguard import _native
    import sys
    print("complete at import:", "start" in _native.type_dict(QtCore.QThread),
          "tracking loaded:", "pyqtguard.registry.qthreads" in sys.modules, flush=True)
    app = QtCore.QCoreApplication([])
    class Loader(QtCore.QThread):
        def run(self):
            self.msleep(300)
    loader = Loader()
    loader.setObjectName("loader")
    loader.start()
    print("sites:", [t.started_at for t in pyqtguard.threads() if t.name == "loader"], flush=True)
    loader.wait()
    pyqtguard.uninstall()
    again = Loader()
    again.start()                    # QThread's own start is back and works
    print("after uninstall:", again.wait(5000), flush=True)
"""


# The start site the registry must show: the line of `loader.start()`.
LOADER_START_LINE = QTHREAD_SITE_APP.splitlines().index("    loader.start()") + 1
SITE = re.compile(rf"sites: \['.*app\.py:{LOADER_START_LINE}'\]")


def test_qthread_start_is_wrapped_when_the_app_first_uses_qthread(tmp_path):
    # Completing QThread's attributes costs every app 0.4-0.8 ms; pyqtguard
    # leaves it to the app's own first use and wraps start then.
    result = run_app(QTHREAD_SITE_APP.replace("{before}", ""), tmp_path)
    assert result.returncode == 0, result.describe()
    assert "complete at import: False tracking loaded: False" in result.stdout
    assert SITE.search(result.stdout), (LOADER_START_LINE, result.stdout)
    assert "after uninstall: True" in result.stdout


def test_qthread_used_before_install_is_wrapped_at_once(tmp_path):
    before = "from PyQt6 import QtCore; QtCore.QThread.start"
    result = run_app(QTHREAD_SITE_APP.replace("{before}", before), tmp_path)
    assert result.returncode == 0, result.describe()
    assert "complete at import: True tracking loaded: True" in result.stdout
    assert SITE.search(result.stdout), (LOADER_START_LINE, result.stdout)
    assert "after uninstall: True" in result.stdout


def test_finished_threads_leave_the_registry(tmp_path):
    result = run_app("""
        import threading
        import pyqtguard
        from pyqtguard import _native
        pyqtguard.install()
        for batch in range(20):
            workers = [threading.Thread(target=lambda: None) for _ in range(100)]
            for w in workers: w.start()
            for w in workers: w.join()
        import time; time.sleep(0.2)   # the OS reaps joined threads a moment later
        print("threads:", len(pyqtguard.threads()), flush=True)
        print("stats:", _native.thread_table_stats(), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "threads: 1" in result.stdout
    stats = result.stdout.split("stats:")[1]
    # MainThread only: nothing left of 2,000 threads (pyqtguard's watchdog
    # is a native thread without a Python thread state).
    assert "'live': 1," in stats and "'dropped': 0" in stats


def test_a_joined_thread_is_not_listed_while_its_os_thread_ends(tmp_path):
    """join() returns when the Python thread is done; its OS thread ends a
    moment later, still in /proc/self/task under the process's name.  The
    listing (and so the threads at shutdown) showed it then as a native
    thread of some library, `python  native <tid>`: 134 of 300 times here.
    A thread that took itself out of the table as it ended is not listed."""
    result = run_app("""
        import threading
        import pyqtguard
        pyqtguard.install()
        listed = 0
        for _ in range(300):
            worker = threading.Thread(target=lambda: None)
            worker.start()
            worker.join()
            listed += any(info.native_id == worker.native_id for info in pyqtguard.threads())
        print("listed after join:", listed, flush=True)
        # a thread that is still there (a library's, running) is still listed
        import ctypes, time
        libc = ctypes.CDLL(None)
        native = threading.Thread(target=lambda: libc.usleep(300000), daemon=True)
        native.start()
        time.sleep(0.05)
        kinds = {info.native_id: info.kind for info in pyqtguard.threads()}
        print("running one listed:", native.native_id in kinds, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "listed after join: 0" in result.stdout, result.describe()
    assert "running one listed: True" in result.stdout, result.describe()


def test_odd_thread_names_are_truncated_and_escaped(tmp_path):
    result = run_app("""
        import sys, threading
        import pyqtguard
        from pyqtguard.registry import listing as registry
        pyqtguard.install()
        stop = threading.Event()
        threading.Thread(target=stop.wait, name="x" * 10_000, daemon=True).start()
        threading.Thread(target=stop.wait, name="bad\\udcff\\x00\\nname", daemon=True).start()
        table = registry.format_table(pyqtguard.threads(stacks=True))
        sys.stdout.write(table.encode("ascii", "backslashreplace").decode())
        pyqtguard.dump_threads()
        stop.set()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "x" * 28 in result.stdout and "x" * 300 not in result.stdout
    assert "bad\\\\udcff\\\\x00\\\\nname" in result.stdout or "bad\\udcff" in result.stdout
    assert "=== end of thread dump ===" in result.log


def test_dump_threads_to_a_file_and_the_log(tmp_path):
    result = run_app("""
        import io, threading
        import pyqtguard
        pyqtguard.install()
        stop = threading.Event()
        def waiting_for_job():
            stop.wait()
        threading.Thread(target=waiting_for_job, name="job-runner", daemon=True).start()
        buffer = io.StringIO()
        pyqtguard.dump_threads(buffer)
        print(buffer.getvalue(), flush=True)
        stop.set()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "job-runner" in result.stdout and "in waiting_for_job" in result.stdout


def test_pyqtguard_dump_pid_of_a_frozen_app(tmp_path):
    """The GUI thread is stuck in a slot; `pyqtguard dump PID` still gets
    every thread's stack."""
    script = tmp_path / "app.py"
    script.write_text(
        "import time, threading\n"
        "import pyqtguard\n"
        "pyqtguard.install(freeze_ms=0)\n"
        "from PyQt6 import QtCore\n"
        "app = QtCore.QCoreApplication([])\n"
        "def stuck_in_slot():\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)\n"
        "QtCore.QTimer.singleShot(0, stuck_in_slot)\n"
        "app.exec()\n")
    env = child_env(tmp_path / "logs")
    app = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                           text=True)
    try:
        assert app.stdout.readline().strip() == "ready"
        dump = subprocess.run([sys.executable, "-m", "pyqtguard", "dump", str(app.pid)],
                              env=env, capture_output=True, text=True, timeout=30)
    finally:
        app.kill()
        app.wait()
    assert dump.returncode == 0, dump.stderr
    assert "=== pyqtguard thread dump ===" in dump.stdout
    assert "MainThread" in dump.stdout and "in stuck_in_slot" in dump.stdout


def test_dump_of_a_process_that_is_gone(tmp_path):
    env = child_env(tmp_path / "logs")
    proc = subprocess.run([sys.executable, "-c", "pass"])
    gone = subprocess.run([sys.executable, "-m", "pyqtguard", "dump", "999999999"],
                          env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0
    assert gone.returncode == 2 and "no process" in gone.stderr


def test_dump_signal_left_alone_when_the_app_uses_it(tmp_path):
    result = run_app("""
        import os, signal
        got = []
        signal.signal(signal.SIGUSR1, lambda *a: got.append("app"))
        import pyqtguard
        pyqtguard.install()
        os.kill(os.getpid(), signal.SIGUSR1)
        print("app handler:", got, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "app handler: ['app']" in result.stdout
    assert "signal 10 is in use" in result.stderr


def test_gui_freeze_is_reported_with_the_blocking_function_and_duration(tmp_path):
    result = run_app("""
        import time
        import pyqtguard
        pyqtguard.install(freeze_ms=300)
        from PyQt6 import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        seen = []
        pyqtguard.on_freeze(lambda event: seen.append(event.duration_ms))
        def load_huge_file_in_the_gui_thread():
            time.sleep(1.2)
        button = QtWidgets.QPushButton("load")
        button.clicked.connect(load_huge_file_in_the_gui_thread)
        button.show()
        QtCore.QTimer.singleShot(200, button.click)
        QtCore.QTimer.singleShot(2000, app.quit)
        app.exec()
        print("callback saw:", seen, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    assert log.count("GUI freeze: the event loop has not turned for") == 1, log
    detected = int(re.search(r"has not turned for (\d+) ms", log).group(1))
    assert 300 <= detected <= 360 + 100, detected   # freeze_ms + 20%, + scheduling slack
    after = log.split("GUI freeze: the event loop", 1)[1]
    assert "in load_huge_file_in_the_gui_thread" in after
    ended = int(re.search(r"GUI freeze ended: the event loop was blocked for (\d+) ms",
                          log).group(1))
    assert 1100 <= ended <= 1500, ended
    seen = result.stdout.split("callback saw:")[1]
    assert re.search(r"\[\d+\]", seen), seen


def test_no_freeze_report_for_a_responsive_app(tmp_path):
    result = run_app("""
        import time
        import pyqtguard
        pyqtguard.install(freeze_ms=300)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        ticks = []
        timer = QtCore.QTimer()
        timer.timeout.connect(lambda: (ticks.append(1), time.sleep(0.05)))
        timer.start(20)
        QtCore.QTimer.singleShot(1200, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "GUI freeze" not in result.log


def test_freeze_detection_off(tmp_path):
    result = run_app("""
        import time
        import pyqtguard
        pyqtguard.install(freeze_ms=0)
        from PyQt6 import QtCore
        app = QtCore.QCoreApplication([])
        QtCore.QTimer.singleShot(0, lambda: time.sleep(0.5))
        QtCore.QTimer.singleShot(700, app.quit)
        app.exec()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "GUI freeze" not in result.log


def test_bad_freeze_arguments():
    import pytest

    import pyqtguard

    with pytest.raises(TypeError, match="callable"):
        pyqtguard.on_freeze("not a function")
    with pytest.raises(TypeError, match="freeze_ms"):
        pyqtguard.install(freeze_ms="fast")


def test_signal_dump_is_written_by_the_watchdog(tmp_path):
    result = run_app("""
        import os, signal, threading, time
        import pyqtguard
        pyqtguard.install()
        def waiting_for_job():
            time.sleep(30)
        threading.Thread(target=waiting_for_job, name="job-runner", daemon=True).start()
        for _ in range(2):
            os.kill(os.getpid(), signal.SIGUSR1)
            time.sleep(1.5)
        print("left:", sorted(t.name for t in threading.enumerate()), flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    # Each request gets its own report helper thread, which takes the GIL
    # and writes the full report (not the C fallback) and leaves no trace.
    assert result.log.count("=== pyqtguard thread dump ===") == 2
    assert "in waiting_for_job" in result.log
    assert "Python did not answer" not in result.log
    assert "job-runner" in result.log and "pyqtguard-report" not in result.log
    assert "left: ['MainThread', 'job-runner']" in result.stdout
    _ = os, signal, time


def test_os_thread_count_matches_the_kernel(tmp_path):
    result = run_app("""
        import os, threading
        from pyqtguard import _native
        stop = threading.Event()
        threads = [threading.Thread(target=stop.wait) for _ in range(5)]
        for t in threads: t.start()
        print("counts:", _native.os_thread_count(), len(os.listdir("/proc/self/task")), flush=True)
        stop.set()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "counts: 6 6" in result.stdout


def test_os_thread_count_with_the_watchdog_and_in_a_fork_child(tmp_path):
    # With the watchdog running the count comes from its open /proc/self/task;
    # a fork child's copy of that descriptor names the parent, so the child
    # must count its own threads - and know it has no watchdog.
    result = run_app("""
        import os, threading, time
        import pyqtguard
        pyqtguard.install()
        from pyqtguard import _native
        from pyqtguard import watchdog as _watchdog
        time.sleep(0.2)
        stop = threading.Event()
        threads = [threading.Thread(target=stop.wait) for _ in range(3)]
        for t in threads: t.start()
        print("parent:", _native.os_thread_count(), len(os.listdir("/proc/self/task")),
              _watchdog.started(), flush=True)
        pid = os.fork()
        if pid == 0:
            print("child:", _native.os_thread_count(), len(os.listdir("/proc/self/task")),
                  _watchdog.started(), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        stop.set()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "parent: 5 5 True" in result.stdout      # main, watchdog, 3 workers
    assert "child: 1 1 False" in result.stdout


DEADLOCK_APP = """
    import threading, time
    import pyqtguard
    pyqtguard.install(freeze_ms=200)
    from PyQt6 import QtCore, QtWidgets
    app = QtWidgets.QApplication([])
    cache_lock, database_lock = threading.Lock(), threading.Lock()

    def save_in_the_background():              # database, then cache
        with database_lock:
            time.sleep(0.3)
            cache_lock.acquire(timeout={hold})   # a deadlock: waits for the GUI thread
            print("worker gave up", flush=True)

    def refresh_in_the_gui_thread():           # cache, then database
        with cache_lock:
            time.sleep(0.1)
            database_lock.acquire(timeout={hold})
            print("GUI thread gave up", flush=True)

    threading.Thread(target=save_in_the_background, name="saver").start()
    QtCore.QTimer.singleShot(50, refresh_in_the_gui_thread)
    QtCore.QTimer.singleShot(300, app.quit)
    app.exec()
"""


def test_a_freeze_that_lasts_writes_every_threads_stack_once(tmp_path):
    """A deadlock: the GUI thread waits for a lock a worker holds while the
    worker waits for one the GUI thread holds.  The first freeze report
    shows only the GUI thread; once the freeze lasts (5 x freeze_ms, at
    least 3 s) every thread's stack is written, once, so the other side of
    the deadlock shows too."""
    result = run_app(DEADLOCK_APP.format(hold=5), tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    log = result.log
    assert log.count("GUI freeze: the event loop has not turned for") == 1, log
    assert log.count("GUI freeze: still frozen after") == 1, log
    lasting = log.split("GUI freeze: still frozen after", 1)[1]
    assert "'saver'" in lasting and "in save_in_the_background" in lasting, lasting
    assert "in refresh_in_the_gui_thread" in lasting, lasting
    still = int(re.search(r"still frozen after (\d+) ms", log).group(1))
    assert 3000 <= still <= 4500, still


def test_a_short_freeze_writes_no_stacks_of_other_threads(tmp_path):
    result = run_app(DEADLOCK_APP.format(hold=1), tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "GUI freeze: the event loop has not turned for" in result.log, result.log
    assert "still frozen" not in result.log, result.log


def test_the_thread_asking_for_a_dump_shows_its_own_code_not_pyqtguards(tmp_path):
    # Its stack ended in pyqtguard's listing code (the dump being made).
    result = run_app("""
        import sys, threading
        import pyqtguard
        pyqtguard.install()
        def ask():
            pyqtguard.dump_threads(sys.stdout)
        threading.Thread(target=ask, name="asker").start()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    asker = result.stdout.split("Stack of 'asker'")[1].split("===")[0]
    assert asker.rstrip().endswith("pyqtguard.dump_threads(sys.stdout)"), asker
    assert "pyqtguard/registry" not in result.stdout, result.stdout


def test_threads_the_stdlib_starts_for_a_pool_or_queue_name_the_apps_line(tmp_path):
    # A ProcessPoolExecutor's manager thread and a multiprocessing.Queue's
    # feeder are started by the standard library at the first submit() or
    # put(): their start site was the library's own line (process.py:750,
    # queues.py:...), not the app's line that caused it.
    result = run_app("""
        import multiprocessing, sys
        from concurrent.futures import ProcessPoolExecutor
        import pyqtguard
        pyqtguard.install(stderr=False)

        if __name__ == "__main__":
            queue = multiprocessing.get_context("fork").Queue()
            queue.put("row")                                          # line 9
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
                pool.submit(abs, -1).result()                         # line 11
                for t in pyqtguard.threads():
                    if t.kind == "python" and t.name != "MainThread":
                        print("site:", t.name, t.started_at, flush=True)
            queue.close(); queue.join_thread()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    sites = [line.split()[-1] for line in result.stdout.splitlines() if line.startswith("site:")]
    # The queue's feeder, the pool's manager, and the pool's own queue's
    # feeder - started by the manager thread, with no app line to name: the
    # library's line as before.
    assert len(sites) == 3, result.describe()
    named = sorted(os.path.basename(s) for s in sites)
    assert named[:2] == ["app.py:11", "app.py:9"], result.describe()
    assert named[2].startswith("queues.py:"), result.describe()


def test_a_fork_child_of_a_worker_thread_lists_itself_once_with_its_own_native_id(tmp_path):
    # threading keeps the forking thread's native_id from the parent in the
    # child (3.11): threads() listed the child's one thread twice - as
    # "main" with the parent's thread's native id, and again as "python".
    result = run_app("""
        import os, threading
        import pyqtguard
        pyqtguard.install()
        stop = threading.Event()
        others = [threading.Thread(target=stop.wait, name=f"parent-{i}") for i in range(2)]
        for t in others: t.start()

        def forker():
            pid = os.fork()
            if pid == 0:
                listed = [(t.name, t.kind, t.native_id) for t in pyqtguard.threads()]
                print("child:", listed, threading.get_native_id(), flush=True)
                os._exit(0)
            os.waitpid(pid, 0)

        thread = threading.Thread(target=forker, name="forker")
        thread.start(); thread.join()
        stop.set()
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    line = next(line for line in result.stdout.splitlines() if line.startswith("child:"))
    listed, native_id = line[len("child: "):].rsplit(" ", 1)
    assert listed == f"[('forker', 'main', {native_id})]", result.describe()


def test_thread_state_walks_survive_a_collection_that_lets_a_thread_end(tmp_path):
    """_native.current_frames() and python_thread_ids() walk this
    interpreter's thread states with the GIL held, but on 3.11 a GC-tracked
    allocation (the frame object made for a thread, the tuple of its ids)
    can run a collection right there, whose callbacks and finalizers may let
    go of the GIL (a sleep, a file closed): a thread that ends meanwhile
    frees its state, and the walk went on from freed memory (SIGSEGV on
    3.11; sys._current_frames() deadlocked instead).  The collection is made
    to happen at one of the first allocations, its callback lets the thread
    end (before the fix: SIGSEGV or a hang, at one or another of them)."""
    result = run_app("""
        import gc, threading, time
        import pyqtguard
        pyqtguard.install()
        from PyQt6 import QtWidgets
        from pyqtguard import _native
        app = QtWidgets.QApplication([])
        state = {"armed": False, "ran": 0}
        def let_it_end(phase, info):
            if phase == "start" and state["armed"]:
                state["armed"] = False
                state["ran"] += 1
                state["ev"].set()
                time.sleep(0.3)          # the GIL let go: the thread ends
        gc.callbacks.append(let_it_end)
        def walk(fn, allocs_first):
            ev = state["ev"] = threading.Event()
            t = threading.Thread(target=ev.wait)
            t.start()
            time.sleep(0.1)
            keep = [(i, -i) for i in range(5000)]   # no spare 2-tuples
            gc.collect()
            n = gc.get_count()[0]
            gc.set_threshold(n + allocs_first)   # collects at the next one
            state["armed"] = True
            try:
                result = fn()
            finally:
                gc.set_threshold(700)
                state["armed"] = False
                ev.set()
            t.join()
            del keep
            return result
        # The collection at the first allocations after the call's own (its
        # dict or list): which one is the walk's depends on the version.
        for allocs_first in range(1, 5):
            frames = walk(_native.current_frames, allocs_first)
            assert threading.get_ident() in frames
            ids = walk(_native.python_thread_ids, allocs_first)
            assert threading.get_ident() in dict(ids)
        print("ok")
    """, tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "ok" in result.stdout, result.describe()
