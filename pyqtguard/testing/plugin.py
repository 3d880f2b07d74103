"""The active plugin: pyqtguard's guards tied to each test.

Registered by :mod:`pyqtguard.pytest_plugin` when asked for.  At the
session's start it installs pyqtguard (every exception reported, no repeat
counting; bounded exit).  For each test:

- the crash context names the test and its phase, so a segfault's report
  (and a notice on the terminal, which pytest's capture would otherwise
  swallow) says which test crashed;
- uncaught exceptions from any thread, QThread, slot, virtual or ``__del__``
  seen during a phase fail that phase (or warn);
- freezes of the GUI thread inside the test's event loops fail the test
  (when a budget is set);
- after the test's teardown - its fixtures torn down - the threads,
  QThreads, pool tasks and workers it started and left running fail it (or
  warn), each named with where it was started; optionally top-level widgets.

At the session's end, threads still alive are listed with the test that
left each, and the process gets ``exit_timeout`` seconds to end (exit
status 124 after that, with every thread's stack in the run log).
"""
from __future__ import annotations

import os
import sys
import threading
import warnings

import pytest

from .. import _native
from ..config import installed_config
from . import leaks
from .freezes import FreezeWatch
from .lint import add_check_item

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Generator
    from typing import Any

    from .settings import Settings


class PyqtguardWarning(UserWarning):
    """A check in warn mode found something."""


class GuardFailure(Exception):
    """What a check found, as a test failure (shown without a traceback of
    the plugin itself)."""


SHOWN_EXCEPTIONS = 10     # exception reports a failure shows whole; the rest are counted


class _Caught:
    """The exception reports of the running phase: the first
    :data:`SHOWN_EXCEPTIONS` kept, the rest counted (a test whose 3,000
    threads raised failed with 3,000 tracebacks, 5.5 MB; the run log has
    every one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: list[Any] = []
        self._more = 0

    def add(self, report: Any) -> None:
        with self._lock:
            if len(self._kept) < SHOWN_EXCEPTIONS:
                self._kept.append(report)
            else:
                self._more += 1

    def take(self) -> tuple[list[Any], int]:
        """The kept reports and how many more came; both emptied."""
        if not self._kept:
            # Nearly every phase: nothing came.  No lock needed to see it (a
            # list read under the GIL); a report added right after this look
            # goes to the next take(), as one added right after the locked
            # swap below would.  _more is only counted once _kept is full.
            return [], 0
        with self._lock:
            taken = (self._kept, self._more)
            self._kept, self._more = [], 0
        return taken


def _records_handler(sink: _Caught) -> logging.Handler:
    """A handler on the ``pyqtguard`` logger that keeps each exception report
    pyqtguard logs (the record carries the :class:`pyqtguard.ExceptionRecord`)."""
    import logging

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            report = getattr(record, "pyqtguard_record", None)
            if report is not None:
                sink.add(report)

    return _Collect(logging.ERROR)


def _not_shown(more: int) -> str:
    from pyqtguard.logs import run_log_path

    path = run_log_path()
    return (f"and {more} more uncaught exception{'s' if more != 1 else ''} in this test, "
            f"not shown: the run log has every one" + (f" ({path})" if path else ""))


def _describe_exception(record: Any,
                        left_by: dict[int, tuple[threading.Thread, str, str | None]]) -> str:
    """The report, saying so when its thread is one an earlier test left
    running (the running test fails: it happened during it, but the bug is
    likely the other test's)."""
    origin = ""
    thread = getattr(record, "thread", None)
    left = left_by.get(id(thread)) if thread is not None else None
    if left is not None and left[0] is thread:
        site = left[2]                  # known when it was left: the thread may have ended
        origin = (f" (a thread left running by {left[1]}"
                  + (f", started at {site}" if site else "") + ")")
    return (f"uncaught exception in thread {record.thread_name!r} [{record.source}]{origin}:\n"
            + record.traceback_text.rstrip())


def _drop_ended_fixture_values(item: pytest.Item) -> None:
    """Forget the values of the test's function-scoped fixtures, torn down by
    now, as pytest does right after the teardown is reported: until then
    ``item.funcargs`` keeps a widget the fixture made (and closed, or just
    returned) alive, and it would count as left alive by the test.  A value
    the fixture also put elsewhere stays alive, and counts."""
    funcargs = getattr(item, "funcargs", None)
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", None)
    if not isinstance(funcargs, dict) or not defs:
        return
    for name in list(funcargs):
        fixturedefs = defs.get(name)
        if (fixturedefs and getattr(fixturedefs[-1], "scope", None) == "function"
                and getattr(fixturedefs[-1], "cached_result", True) is None):
            del funcargs[name]


class GuardPlugin:
    """The per-test checks; one instance per pytest process."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.worker = os.environ.get("PYTEST_XDIST_WORKER")
        self._exceptions = _Caught()
        self._handler: logging.Handler | None = None
        self._freezes = FreezeWatch()
        self._before: leaks.Snapshot | None = None
        self._left_by: dict[int, tuple[threading.Thread, str, str | None]] = {}
        self._marker_of: pytest.Item | None = None
        self._marker_args: dict[str, Any] = {}
        self._installed: Any = None
        self._wrong_threads: list[str] = []     # widgets used off the GUI thread
        self._worker_suffix = (f" [pytest-xdist worker {self.worker}]" if self.worker
                               else "")
        self._nodeid_of: pytest.Item | None = None
        self._nodeid_text = ""
        # pytest captures fd 2 during tests: a crash notice goes to a copy of
        # the terminal's stderr, taken now, while capturing is suspended.
        try:
            self._terminal_fd = os.dup(sys.stderr.fileno())
        except (AttributeError, OSError, ValueError):
            self._terminal_fd = -1

    # ---- session ----------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._ensure_installed()
        import logging

        self._handler = _records_handler(self._exceptions)
        logging.getLogger("pyqtguard").addHandler(self._handler)
        self._set_context("collection")

    def _set_crash_notice(self) -> None:
        """A crash says on the terminal where its report is (again after an
        install: a pytest session run in this process - pytester's in-process
        runs - installed its own and took the notice away at its end)."""
        import pyqtguard

        log = pyqtguard.log_path()
        if self._terminal_fd >= 0:
            where = f"report in {log}" if log else "report on stderr"
            _native.set_crash_notice(self._terminal_fd, where)

    def _ensure_installed(self) -> None:
        """pyqtguard installed with the plugin's options - again if the suite
        uninstalled it, or installed its own first (a conftest's install()
        runs before pytest puts in a ``threading.excepthook`` that does not
        chain, and brings repeat counting and its own exit timeout)."""
        current = installed_config()
        if current is not None and current is self._installed:
            return                              # each test: nothing to import
        import pyqtguard

        if current is not None:
            pyqtguard.uninstall()
        timeout = self.settings.exit_timeout
        # No stderr copies: a failing test shows its exception, the run log
        # keeps every report, and pytest closes the descriptors it captures
        # with.  A crash says where its report is on the terminal.
        self._installed = pyqtguard.install(
            app_name="pytest", repeat_interval=0, freeze_ms=0, stderr=False,
            exit_timeout=timeout if timeout > 0 else None,
            check_threads=self.settings.check_threads != "off")
        if self.settings.check_threads != "off":
            from pyqtguard.qt import wrongthread

            wrongthread.add_listener(self._wrong_thread)
        self._freezes.invalidate()              # uninstall() may have unwrapped exec
        self._set_crash_notice()

    def pytest_report_header(self, config: pytest.Config) -> str:
        import pyqtguard

        return f"pyqtguard: on; run log {pyqtguard.log_path() or '(none: stderr only)'}"

    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if self.settings.check:
            add_check_item(session, items)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._ensure_installed()                # the bounded exit, whatever the suite did
        self._set_context("the end of the session")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Threads still alive now will hold the process at exit: name them,
        with the test that left each."""
        alive = [(t, self._left_by.get(id(t), (t, None, None))[1]) for t in threading.enumerate()
                 if t is not threading.main_thread() and t.is_alive() and not t.daemon
                 and not leaks.is_own_thread(t)]
        if not alive:
            return
        timeout = self.settings.exit_timeout
        limit = f"{timeout:g} s" if timeout > 0 else "no limit"
        lines = [f"{len(alive)} thread(s) still alive at the end of the session will "
                 f"keep the process from ending (exit timeout: {limit}):"]
        for thread, test in alive:
            site = leaks._start_site(thread)
            lines.append(f"  {thread.name!r}" + (f" started at {site}" if site else "")
                         + (f", left by {test}" if test else ""))
        terminalreporter.section("pyqtguard")
        for line in lines:
            terminalreporter.write_line(line)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        import logging

        self._freezes.detach()
        if self._handler is not None:
            logging.getLogger("pyqtguard").removeHandler(self._handler)
        _native.set_crash_notice(-1, "")
        # The copy of the terminal's stderr stays open: a crash or the exit
        # deadline may still need it until the process ends.

    # ---- per test ---------------------------------------------------------
    def _set_context(self, text: str) -> None:
        _native.set_crash_context(f"pytest: {text}{self._worker_suffix}")

    def _nodeid(self, item: pytest.Item) -> str:
        """``item.nodeid``, read once per test: pytest 9 builds the string at
        each read, and the crash context names the test four times a test."""
        if self._nodeid_of is not item:
            self._nodeid_text = item.nodeid
            self._nodeid_of = item
        return self._nodeid_text

    def _marker(self, item: pytest.Item) -> dict[str, Any]:
        """The test's ``pyqtguard(...)`` marker arguments (read once per test)."""
        if self._marker_of is not item:
            marker = item.get_closest_marker("pyqtguard")
            self._marker_args = dict(marker.kwargs) if marker is not None else {}
            self._marker_of = item
        return self._marker_args

    def _budget(self, item: pytest.Item) -> int:
        freeze_ms = self._marker(item).get("freeze_ms")
        if freeze_ms is None:
            return self.settings.freeze_ms
        if isinstance(freeze_ms, bool) or not isinstance(freeze_ms, int) or freeze_ms < 0:
            raise pytest.UsageError(f"{item.nodeid}: pyqtguard(freeze_ms=...) must be an "
                                    f"int >= 0, not {freeze_ms!r}")
        return freeze_ms

    def _wrong_thread(self, text: str) -> None:
        """A widget used off the GUI thread (in that thread: list.append is atomic)."""
        self._wrong_threads.append(text)

    def _take_wrong_threads(self) -> list[str]:
        if not self._wrong_threads:
            return []               # as _Caught.take: one added now goes to the next take
        taken, self._wrong_threads[:] = list(self._wrong_threads), []
        return taken

    def _take_exceptions(self) -> tuple[list[Any], int]:
        """The phase's exception reports (the first few) and how many more."""
        # Queued reports are written, and so logged to the handler above, now.
        _native.flush_exception_reports()
        return self._exceptions.take()

    def _problems(self, item: pytest.Item, *, with_leaks: bool) -> tuple[list[str], list[str]]:
        """(failures, warnings) the checks found for this phase."""
        marker = self._marker(item)
        failures: list[str] = []
        warned: list[str] = []
        records, more = self._take_exceptions()
        if records and self.settings.exceptions != "off" and not marker.get("allow_exceptions"):
            text = [_describe_exception(r, self._left_by) for r in records]
            if more:
                text.append(_not_shown(more))
            (failures if self.settings.exceptions == "fail" else warned).extend(text)
        for text in self._take_wrong_threads():
            if self.settings.check_threads != "off":
                (failures if self.settings.check_threads == "fail" else warned).append(text)
        for event in self._freezes.take():
            failures.append(f"GUI freeze: the event loop did not turn for {event.duration_ms} "
                            f"ms (budget {self._freezes.budget_ms} ms); the GUI thread was at "
                            f"(most recent call last):\n{event.stack.rstrip()}")
        if with_leaks and self._before is not None:
            if self.settings.widgets and not marker.get("allow_widgets"):
                _drop_ended_fixture_values(item)
            check_threads = self.settings.leaks != "off" and not marker.get("allow_threads")
            found = leaks.leaks_since(
                self._before, grace=self.settings.leak_grace, threads=check_threads,
                widgets=self.settings.widgets and not marker.get("allow_widgets"))
            # A thread the test may leave is no failure, but the session's end
            # still names the test that left it (no grace: nothing is waited for).
            left = found if check_threads else leaks.leaks_since(self._before, grace=0)
            for leak in left:
                if isinstance(leak.key, threading.Thread):
                    self._left_by[id(leak.key)] = (leak.key, item.nodeid, leak.where)
            threads = [f"  {leak}" for leak in found if leak.kind != "widget"]
            widgets = [f"  {leak}" for leak in found if leak.kind == "widget"]
            if threads:
                text = "left running after the test's teardown:\n" + "\n".join(threads)
                (failures if self.settings.leaks == "fail" else warned).append(text)
            if widgets:
                failures.append("top-level widgets left alive (close and delete them, or "
                                "mark the test pyqtguard(allow_widgets=True)):\n"
                                + "\n".join(widgets))
        return failures, warned

    def _check(self, item: pytest.Item, *, with_leaks: bool = False) -> None:
        failures, warned = self._problems(item, with_leaks=with_leaks)
        for text in warned:
            warnings.warn(PyqtguardWarning(f"pyqtguard: {text}"), stacklevel=1)
        if failures:
            raise GuardFailure("pyqtguard: " + "\n\npyqtguard: ".join(failures))

    def _run_phase(self, item: pytest.Item, phase: str, *,
                   with_leaks: bool = False) -> Generator[None, Any, Any]:
        self._set_context(f"test {self._nodeid(item)} ({phase})")
        try:
            result = yield
        except BaseException as exc:
            self._problems(item, with_leaks=with_leaks)    # consumed, not reported twice
            from pyqtguard import qt

            if isinstance(exc, SystemExit) and qt.raised_on_purpose(exc):
                # SIGTERM during a wait: the process was asked to end, not the
                # test to fail (pytest would count SystemExit as its failure
                # and run the rest); the session ends, fixtures torn down.
                pytest.exit(f"pyqtguard: SIGTERM received during {item.nodeid} ({phase})",
                            returncode=exc.code if isinstance(exc.code, int) else 143)
            raise
        self._check(item, with_leaks=with_leaks)
        return result

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, Any]:
        self._ensure_installed()                # a test before may have uninstalled it
        self._take_exceptions()                 # what came before belongs to no test
        self._take_wrong_threads()
        if self.settings.check_threads != "off":
            from pyqtguard.qt import wrongthread

            wrongthread.forget_reported()       # each test is told of its own wrong calls
        self._freezes.take()
        self._before = leaks.Snapshot.take(widgets=self.settings.widgets)
        self._freezes.attach()
        self._freezes.budget_ms = self._budget(item)
        return (yield from self._run_phase(item, "setup"))

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Generator[None, Any, Any]:
        """A session, module or class fixture (unittest's ``setUpClass`` too)
        is set up inside the first test that needs it: what it starts is not
        that test's leak."""
        if self._before is None or getattr(fixturedef, "scope", "function") == "function":
            return (yield)
        start = leaks.Snapshot.take(widgets=self._before.widgets is not None)
        try:
            return (yield)
        finally:
            if self._before is not None:
                self._before.add_started_since(start)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        self._freezes.attach()                  # Qt (or QtTest) imported by the test
        return (yield from self._run_phase(item, "call"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item,
                                nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
        try:
            return (yield from self._run_phase(item, "teardown", with_leaks=True))
        finally:
            self._before = None
            self._set_context(f"between tests (after {self._nodeid(item)})")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        """Show a check's finding as text, not as a traceback into the plugin."""
        report = yield
        if call.excinfo is not None and call.excinfo.errisinstance(GuardFailure):
            report.longrepr = str(call.excinfo.value)
        return report
