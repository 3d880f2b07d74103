"""A guarded app whose work runs in subinterpreters (3.12-3.13's private
`_interpreters` / `_xxsubinterpreters`, 3.14's `concurrent.interpreters`).

Each interpreter of 3.12+ created with the default (isolated) config has a
GIL and an object allocator of its own: an object of one interpreter must
never be made or freed by another.  pyqtguard runs in the main interpreter
only; what it does there must not reach into a subinterpreter's objects.
"""
from __future__ import annotations

import signal
import sys

import pytest

from apprunner import run_app

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 12),
    reason="interpreters with their own GIL and allocator came in 3.12 "
           "(3.11's _xxsubinterpreters is a test module sharing both)")

# The private module of 3.12 (_xxsubinterpreters) and 3.13+ (_interpreters):
# create(), run_string() in the calling thread.
INTERPRETERS = """
try:
    import _interpreters as interpreters
except ImportError:
    import _xxsubinterpreters as interpreters
"""
# crunch_in_a_subinterpreter(): {seconds} s of number crunching in a
# subinterpreter made for it, in the calling thread.
CRUNCH_IN_A_SUBINTERPRETER = """
CRUNCH = '''
import time
def crunch():
    start = time.monotonic()
    while time.monotonic() - start < {seconds}:
        sum(range(1000))
crunch()
'''
def crunch_in_a_subinterpreter():
    interp = interpreters.create()
    interpreters.run_string(interp, CRUNCH)
    interpreters.destroy(interp)
"""


def test_gui_freeze_while_the_gui_thread_runs_a_subinterpreter(tmp_path):
    """The GUI thread runs number crunching in a subinterpreter for 1.5 s:
    a freeze, reported with the line that entered the subinterpreter.
    Before, reading the GUI thread's stack with sys._current_frames() made
    frame objects for the subinterpreter's frames with the main
    interpreter's allocator (CPython walks every interpreter there); the
    subinterpreter freed them with its own: 'free(): invalid pointer',
    SIGABRT, where the same app without pyqtguard ran to its end."""
    result = run_app(INTERPRETERS + """
import pyqtguard
pyqtguard.install(freeze_ms=300)
from PyQt6 import QtCore, QtWidgets
app = QtWidgets.QApplication([])
""" + CRUNCH_IN_A_SUBINTERPRETER.format(seconds=1.5) + """
def crunch_then_quit():
    crunch_in_a_subinterpreter()
    app.quit()
QtCore.QTimer.singleShot(0, crunch_then_quit)
app.exec()
print("ran to the end", flush=True)
""", tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "ran to the end" in result.stdout, result.describe()
    log = result.log
    assert "=== pyqtguard crash report ===" not in log, log
    assert log.count("GUI freeze: the event loop has not turned for") == 1, log
    after = log.split("GUI freeze: the event loop", 1)[1]
    assert "in crunch_in_a_subinterpreter" in after, log
    assert "GUI freeze ended" in log, log


def test_dump_threads_while_a_thread_runs_a_subinterpreter(tmp_path):
    """pyqtguard.threads(stacks=True) and dump_threads() while a worker
    thread crunches in a subinterpreter: the worker is listed with its
    stack in the main interpreter (the line that entered the
    subinterpreter), and the app goes on (before: the frame objects made
    for the subinterpreter's frames were freed by the wrong allocator)."""
    result = run_app(INTERPRETERS + """
import io, threading, time
import pyqtguard
pyqtguard.install()
""" + CRUNCH_IN_A_SUBINTERPRETER.format(seconds=1.0) + """
worker = threading.Thread(target=crunch_in_a_subinterpreter, name="cruncher")
worker.start()
time.sleep(0.3)
stacks = {t.name: t.stack for t in pyqtguard.threads(stacks=True)}   # while it crunches
while worker.is_alive():
    buffer = io.StringIO()
    pyqtguard.dump_threads(buffer)
    pyqtguard.threads(stacks=True)
    time.sleep(0.02)
worker.join()
print("cruncher listed:", "cruncher" in stacks, flush=True)
print("its stack:", "in crunch_in_a_subinterpreter" in (stacks.get("cruncher") or ""),
      flush=True)
print("ran to the end", flush=True)
""", tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "ran to the end" in result.stdout, result.describe()
    assert "cruncher listed: True" in result.stdout, result.describe()
    assert "its stack: True" in result.stdout, result.describe()


# A subinterpreter that shares the main interpreter's GIL and allocator
# (3.12's isolated=False, 3.13+'s 'legacy' config): single-phase extension
# modules such as pyqtguard._native load there, their C state shared with
# the main interpreter.
LEGACY = """
def create_legacy():
    if hasattr(interpreters, "new_config"):       # 3.13+
        return interpreters.create("legacy")
    return interpreters.create(isolated=False)    # 3.12
"""

INSTALL_IN_SUBINTERPRETER = '''
import warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import pyqtguard
    returned = pyqtguard.install()
print("install() in a subinterpreter returned", returned, flush=True)
for warning in caught:
    print("warning:", warning.category.__name__, warning.message, flush=True)
'''


def test_install_in_a_subinterpreter_does_nothing(tmp_path):
    """install() in a subinterpreter - a module that calls it at its top,
    imported by a worker - returns None with a RuntimeWarning, and the
    main interpreter's guard goes on as it was.  Before: in an isolated
    subinterpreter an ImportError ('module pyqtguard._native does not
    support loading in subinterpreters'); in a legacy one install() ran a
    second time on the shared C state: a second run log began, the main
    interpreter's reports went there and its own log ended after its header
    (read as a run that died)."""
    result = run_app(INTERPRETERS + LEGACY + f"""
import threading
import pyqtguard
pyqtguard.install()
for interp in (interpreters.create(), create_legacy()):
    interpreters.run_string(interp, {INSTALL_IN_SUBINTERPRETER!r})
    interpreters.destroy(interp)
def load_thumbnails():
    raise ValueError("thumbnail cache is corrupt")
worker = threading.Thread(target=load_thumbnails, name="thumbnailer")
worker.start()
worker.join()
""", tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    out = result.stdout
    assert out.count("install() in a subinterpreter returned None") == 2, result.describe()
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, result.describe()
    assert all("RuntimeWarning" in w and "main interpreter" in w for w in warnings), warnings
    assert len(result.logs) == 1, result.describe()
    log = result.log
    assert "uncaught exception in thread 'thumbnailer'" in log, log
    assert "thumbnail cache is corrupt" in log, log
    assert log.rstrip().endswith("interpreter exit"), log
    assert log.count("interpreter exit") == 1, log


def test_install_in_a_legacy_subinterpreter_alone_leaves_the_app_as_it_was(tmp_path):
    """The main interpreter never calls install(); a legacy subinterpreter
    does, and is destroyed.  Then a slot raises: PyQt6 aborts the process
    (SIGABRT), as without that call.  Before, install() there guarded the
    process from an interpreter that was gone (its hooks, handlers and
    callbacks): a run log was written, and on 3.13 the process ended by
    SIGSEGV instead."""
    result = run_app(INTERPRETERS + LEGACY + f"""
interp = create_legacy()
interpreters.run_string(interp, {INSTALL_IN_SUBINTERPRETER!r})
interpreters.destroy(interp)
from PyQt6 import QtCore, QtWidgets
app = QtWidgets.QApplication([])
def save():
    raise ValueError("disk full")
QtCore.QTimer.singleShot(0, save)
QtCore.QTimer.singleShot(500, app.quit)
app.exec()
""", tmp_path, timeout=60)
    assert result.returncode == -signal.SIGABRT, result.describe()
    assert "install() in a subinterpreter returned None" in result.stdout, result.describe()
    assert "disk full" in result.stderr, result.describe()
    assert result.logs == [], result.describe()


# A crash in code that runs in a subinterpreter: SIGSEGV sent to the
# calling thread (ctypes and faulthandler do not load in an isolated
# subinterpreter on 3.12).
CRASH_APP = INTERPRETERS + """
import sys, threading
import pyqtguard
pyqtguard.install()
from PyQt6 import QtCore, QtWidgets
app = QtWidgets.QApplication([])
CRUNCH = '''
import signal, threading
def crunch():
    signal.pthread_kill(threading.get_ident(), signal.SIGSEGV)
'''
IN_THIS_THREAD = CRUNCH + "crunch()\\n"
IN_ITS_OWN_THREAD = CRUNCH + '''
worker = threading.Thread(target=crunch, name="sub-cruncher")
worker.start()
worker.join()
'''
def run_subinterpreter():
    interp = interpreters.create()
    interpreters.run_string(interp, IN_THIS_THREAD if sys.argv[1] == "here"
                            else IN_ITS_OWN_THREAD)
def start():
    threading.Thread(target=run_subinterpreter, name="interp-runner").start()
QtCore.QTimer.singleShot(0, start)
QtCore.QTimer.singleShot(5000, app.quit)
app.exec()
"""


@pytest.mark.parametrize("where", ["here", "its own thread"])
def test_crash_in_a_subinterpreter(tmp_path, where):
    """A thread of the app runs a subinterpreter, whose code crashes in that
    thread ("here") or in a thread the subinterpreter started.  The report
    has the subinterpreter's stack, where the crash is (3.12: pyqtguard
    writes it, heading "in subinterpreter N", before the thread's stack in
    the main interpreter; 3.13+: faulthandler's dump, which has that
    interpreter's threads only, then the main interpreter's threads, dumped
    by faulthandler in a copy of the process), and the subinterpreter's own
    thread is named as such.  Before: 3.12 left the subinterpreter's stack
    out (the report said "Python stacks written: 2 of 2 threads"), 3.13 gave
    faulthandler's dump of the subinterpreter under "Python stacks of all
    threads" with no word that the GUI thread's was not there, and both
    called the subinterpreter's thread one that "a native library
    started"."""
    result = run_app(CRASH_APP, tmp_path, args=[where.split()[0]], timeout=60)
    assert result.returncode == -signal.SIGSEGV, result.describe()
    log = result.log
    assert "=== pyqtguard crash report ===" in log, log
    report = log.split("=== pyqtguard crash report ===", 1)[1]
    assert "in crunch" in report, report
    assert "a native library started it" not in report, report
    if where != "here":
        assert "is a Python thread of subinterpreter" in report, report
    if sys.version_info < (3, 13):
        current = report.split("\nCurrent thread ", 1)[1]
        assert current.split(":\n", 1)[0].split(", in subinterpreter ")[1].isdigit(), report
        assert "in crunch" in current.split("\n\n", 1)[0], report
        assert "Thread 'MainThread'" in report, report
        if where == "here":
            assert "in run_subinterpreter" in report, report
    else:
        assert "Python stacks of subinterpreter " in report, report
        # faulthandler dumps the crashing thread's interpreter only; the
        # main interpreter's threads are dumped in a copy of the process
        main = report.split("Python stacks of the main interpreter's threads", 1)[1]
        assert "app.py\", line" in main and "in <module>" in main, report
        if where == "here":
            assert "in run_subinterpreter" in main, report


def test_subinterpreter_starting_a_process_in_a_spawn_child(tmp_path):
    """The main module runs a subinterpreter at its top level that starts a
    (short, non-recursive) Python subprocess; the app then uses a spawn
    pool, whose child runs the top level again.  pyqtguard's audit hook is
    the process's (every interpreter's events reach it): in the child it
    called the guard's Python callback, an object of the main interpreter,
    from the subinterpreter - on 3.12 with the subinterpreter's types
    (`TypeError: descriptor 'st_size' for 'os.stat_result' objects doesn't
    apply to a 'os.stat_result' object`), on 3.13 naming "<main module>,
    line 0" - and the child was refused (exit status 3).  Events of another
    interpreter are left to it, as without pyqtguard: the pool works."""
    result = run_app(INTERPRETERS + """
import multiprocessing as mp
import pyqtguard
pyqtguard.install()
interp = interpreters.create()
interpreters.run_string(interp, '''
import subprocess, sys
subprocess.run([sys.executable, "-c", "pass"], check=True)
''')
interpreters.destroy(interp)
def square(n):
    return n * n
if __name__ == "__main__":
    with mp.get_context("spawn").Pool(1) as pool:
        print(pool.map(square, [1, 2, 3]), flush=True)
""", tmp_path, timeout=60)
    assert result.returncode == 0, result.describe()
    assert "[1, 4, 9]" in result.stdout, result.describe()
    assert "refused" not in result.stderr, result.describe()


@pytest.mark.skipif(sys.version_info < (3, 14),
                    reason="concurrent.futures.InterpreterPoolExecutor is 3.14's")
def test_interpreter_pool_task_that_installs_then_crashes(tmp_path):
    """3.14's public API: a task of an InterpreterPoolExecutor calls
    install() (its module does at its top: None, a RuntimeWarning) and then
    crashes.  The report names the pool's thread and has the task's
    stack, under a heading that says whose threads faulthandler wrote."""
    result = run_app("""
import pyqtguard
pyqtguard.install()
from concurrent.futures import InterpreterPoolExecutor
from PyQt6 import QtCore, QtWidgets
app = QtWidgets.QApplication([])
def render_tile(n):
    import signal, threading, warnings
    import pyqtguard
    warnings.simplefilter("always")
    print("install() in the task returned", pyqtguard.install(), flush=True)
    signal.pthread_kill(threading.get_ident(), signal.SIGSEGV)
def start():
    pool = InterpreterPoolExecutor(1)
    pool.submit(render_tile, 1).result()
QtCore.QTimer.singleShot(0, start)
app.exec()
""", tmp_path, timeout=60)
    assert result.returncode == -signal.SIGSEGV, result.describe()
    assert "install() in the task returned None" in result.stdout, result.describe()
    assert "RuntimeWarning: pyqtguard.install() in a subinterpreter does nothing" \
        in result.stderr, result.describe()
    report = result.log.split("=== pyqtguard crash report ===", 1)[1]
    assert "thread: 'InterpreterPoolExecutor-0_0'" in report, report
    assert "Python stacks of subinterpreter " in report, report
    assert "in render_tile" in report, report
    main = report.split("Python stacks of the main interpreter's threads", 1)[1]
    assert "in start" in main and "in <module>" in main, report
