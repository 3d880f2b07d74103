"""asyncio in a guarded app, above all qasync (asyncio on Qt's event loop):
an exception nobody handles in a callback or a task is reported like one
in a slot - in the run log, with its traceback - and qasync's several
``exec()`` calls (one per ``run_until_complete``) are no shutdown of the
app.

Before: asyncio's own handler printed such exceptions to stderr and the run
log had nothing; every ``run_until_complete`` began the exit deadline, so
an app that worked longer than ``exit_timeout`` between two of them (set-up
before ``run_forever``) was ended with exit status 124.

Real qasync and asyncio loops in subprocess apps; assertions on exit status,
stderr and the run log.
"""
from __future__ import annotations

from apprunner import run_app

QASYNC_FAILURES = """
    import asyncio, sys
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtWidgets import QApplication, QLabel
    import qasync

    async def task_that_fails():
        await asyncio.sleep(0.01)
        raise ValueError("raised in a task")

    def callback_that_fails():
        raise KeyError("raised in a callback")

    async def main():
        label = QLabel("hello")
        label.show()
        task = asyncio.ensure_future(task_that_fails())
        asyncio.get_running_loop().call_soon(callback_that_fails)
        await asyncio.sleep(0.2)
        del task                      # never awaited: "never retrieved"
        import gc; gc.collect()
        await asyncio.sleep(0.05)

    app = QApplication(sys.argv)
    qasync.run(main())
    print("ran to the end", flush=True)
"""


def test_unhandled_exceptions_under_qasync_are_reported_in_the_run_log(tmp_path):
    result = run_app(QASYNC_FAILURES, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "ran to the end" in result.stdout
    log = result.log
    assert "[asyncio]: Exception in callback" in log, log
    assert "KeyError: 'raised in a callback'" in log and "in callback_that_fails" in log, log
    assert "[asyncio]: Task exception was never retrieved" in log, log
    assert "ValueError: raised in a task" in log and "in task_that_fails" in log, log
    # reported once each, not again by asyncio's own handler on stderr
    assert result.stderr.count("KeyError: 'raised in a callback'") == 1, result.stderr
    assert result.stderr.count("ValueError: raised in a task") == 1, result.stderr


PLAIN_ASYNCIO_IN_A_THREAD = """
    import asyncio, threading
    import pyqtguard
    pyqtguard.install()

    def fails():
        raise RuntimeError("raised in a callback in a thread's loop")

    async def main():
        asyncio.get_running_loop().call_soon(fails)
        await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="network")
    thread.start()
    thread.join()
    print("joined", flush=True)
"""


def test_an_asyncio_loop_in_a_thread_reports_with_the_threads_name(tmp_path):
    result = run_app(PLAIN_ASYNCIO_IN_A_THREAD, tmp_path)
    assert result.returncode == 0, result.describe()
    log = result.log
    assert "in thread 'network'" in log and "[asyncio]: Exception in callback" in log, log
    assert "RuntimeError: raised in a callback in a thread's loop" in log, log


A_HANDLER_OF_THE_APPS = """
    import asyncio
    import pyqtguard
    pyqtguard.install()

    def fails():
        raise RuntimeError("handled by the app")

    def handler(loop, context):
        print("app's handler:", context["exception"], flush=True)

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(handler)
        loop.call_soon(fails)
        await asyncio.sleep(0.05)

    asyncio.run(main())
"""


def test_an_exception_the_apps_own_handler_takes_is_not_reported(tmp_path):
    result = run_app(A_HANDLER_OF_THE_APPS, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "app's handler: handled by the app" in result.stdout, result.describe()
    assert "handled by the app" not in result.log, result.log
    assert "handled by the app" not in result.stderr, result.stderr


SET_UP_THEN_RUN_FOREVER = """
    import asyncio, sys, time
    import pyqtguard
    pyqtguard.install(exit_timeout=1)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    import qasync

    async def set_up():
        await asyncio.sleep(0.01)
        return "settings"

    app = QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    print(loop.run_until_complete(set_up()), flush=True)
    time.sleep(2.5)                    # more set-up, longer than exit_timeout
    QTimer.singleShot(50, loop.stop)
    with loop:
        loop.run_forever()
    print("ran to the end", flush=True)
"""


def test_qasync_run_until_complete_before_run_forever_is_no_shutdown(tmp_path):
    result = run_app(SET_UP_THEN_RUN_FOREVER, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "ran to the end" in result.stdout, result.describe()
    assert "exit timeout" not in result.log, result.log
    assert result.log.count("shutdown began") == 1, result.log


QASYNC_RUN = """
    import asyncio, sys
    import pyqtguard
    pyqtguard.install()
    from PyQt6.QtWidgets import QApplication
    import qasync

    async def main():
        await asyncio.sleep(0.05)

    app = QApplication(sys.argv)
    qasync.run(main())
"""


def test_qasync_run_begins_shutdown_once(tmp_path):
    result = run_app(QASYNC_RUN, tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.log.count("shutdown began") == 1, result.log


A_HANG_AFTER_QASYNC = """
    import asyncio, sys, threading, time
    import pyqtguard
    pyqtguard.install(exit_timeout=1)
    from PyQt6.QtWidgets import QApplication
    import qasync

    async def main():
        threading.Thread(target=time.sleep, args=(60,), name="forgotten").start()
        await asyncio.sleep(0.05)

    app = QApplication(sys.argv)
    qasync.run(main())
"""


def test_a_hang_after_a_qasync_app_still_ends_at_the_deadline(tmp_path):
    result = run_app(A_HANG_AFTER_QASYNC, tmp_path, timeout=60)
    assert result.returncode == 124, result.describe()
    assert "=== pyqtguard exit timeout ===" in result.log and "forgotten" in result.log, \
        result.log


QASYNC_FREEZE = """
    import asyncio, sys, time
    import pyqtguard
    pyqtguard.install(freeze_ms=200)
    from PyQt6.QtWidgets import QApplication
    import qasync

    async def blocks_the_loop():
        await asyncio.sleep(0.05)
        time.sleep(0.6)                # a blocking call in a coroutine

    app = QApplication(sys.argv)
    qasync.run(blocks_the_loop())
"""


def test_a_coroutine_that_blocks_qasyncs_loop_is_a_freeze(tmp_path):
    result = run_app(QASYNC_FREEZE, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "GUI freeze: the event loop has not turned" in result.log, result.log
    assert "in blocks_the_loop" in result.log, result.log


EXEC_IN_A_COROUTINE = """
    import asyncio, sys, time
    import pyqtguard
    pyqtguard.install(exit_timeout=1)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    async def main():
        # a forgotten executor job: asyncio.run() waits for it after main()
        asyncio.get_running_loop().run_in_executor(None, time.sleep, 60)
        app = QApplication(sys.argv)
        QTimer.singleShot(50, app.quit)
        app.exec()                     # Qt's own loop, run from a coroutine
        print("exec returned", flush=True)

    asyncio.run(main())
"""


def test_exec_in_a_coroutine_of_asyncio_run_is_the_apps_loop(tmp_path):
    """``asyncio.run(main())`` with a plain ``app.exec()`` inside: the
    asyncio loop does not run Qt's loop (qasync's does), it waits for it.
    The end of that ``exec()`` begins shutdown, and asyncio.run()'s wait for
    a forgotten executor job ends at the deadline."""
    result = run_app(EXEC_IN_A_COROUTINE, tmp_path, timeout=40)
    assert result.returncode == 124, result.describe()
    assert "exec returned" in result.stdout, result.describe()
    assert "shutdown began (the Qt event loop ended)" in result.log, result.log
    assert "=== pyqtguard exit timeout ===" in result.log, result.log
