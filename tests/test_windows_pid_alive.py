"""Whether a pid runs, on Windows: ``os.kill(pid, 0)`` is no existence check
there (signal 0 is CTRL_C_EVENT: GenerateConsoleCtrlEvent sends a Ctrl+C to
the console's processes, and nothing raises for an ended pid, so under Wine
every ended run's log read "still running").  Run here with a stand-in
``_winapi``; tests/windows/check_pid_alive.py runs the real one (Wine or
Windows)."""
from __future__ import annotations

import os
import sys
import types

import pytest

from pyqtguard.cli import dump
from pyqtguard.logs import folder


def _winerror(code: int) -> OSError:
    error = OSError(22, "OpenProcess failed")
    error.winerror = code            # set by the constructor on Windows only
    return error


def _fake_winapi(processes: dict[int, int | OSError]) -> types.ModuleType:
    """pid -> exit code (259: running) or the error OpenProcess raises."""
    handles: dict[int, int] = {}
    closed: list[int] = []

    def open_process(access, inherit, pid):
        assert access == 0x1000 and inherit is False
        if pid > 0xFFFFFFFF:
            raise OverflowError(pid)
        what = processes.get(pid, _winerror(87))    # ERROR_INVALID_PARAMETER
        if isinstance(what, OSError):
            raise what
        handles[1000 + pid] = what
        return 1000 + pid

    return types.SimpleNamespace(OpenProcess=open_process,
                                 GetExitCodeProcess=lambda handle: handles[handle],
                                 CloseHandle=closed.append, closed=closed)


@pytest.fixture
def windows(monkeypatch):
    def no_kill(*args):
        raise AssertionError(f"os.kill{args} on Windows sends a Ctrl+C")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(os, "kill", no_kill)

    def use(processes):
        fake = _fake_winapi(processes)
        monkeypatch.setitem(sys.modules, "_winapi", fake)
        return fake
    return use


def test_a_running_pid_is_alive_and_an_ended_one_is_not(windows):
    fake = windows({10: 259, 11: 0, 12: 3221225477,
                    13: _winerror(5)})
    assert folder.holds_open(10, "C:/logs/run.log")
    assert not folder.holds_open(11, "C:/logs/run.log")       # ended, handle still held
    assert not folder.holds_open(12, "C:/logs/run.log")       # crashed
    assert folder.holds_open(13, "C:/logs/run.log")           # another user's, running
    assert not folder.holds_open(14, "C:/logs/run.log")       # no such process
    assert not folder.holds_open(2 ** 40, "C:/logs/run.log")
    assert fake.closed == [1010, 1011, 1012]


def test_dump_asks_the_same_without_a_signal(windows):
    windows({5_000_010: 259, 5_000_011: 1})           # past Linux's largest pid
    assert dump._exists(5_000_010)
    assert not dump._exists(5_000_011)
    assert not dump._exists(5_000_012)
