"""Sending reports on a hostile or broken network (session 18): real apps in
subprocesses send to socket servers on 127.0.0.1 that drip, redirect, answer
garbage or never answer, and to callables that misbehave.  What must hold:
the host app is never harmed (no hang, no lost report, no report sent
elsewhere or without consent), whatever the network does."""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from apprunner import run_app, send_kept_reports


class Server:
    """A socket server on 127.0.0.1; *answer(server, connection)* runs for
    each connection on a thread of its own.  ``requests``: the request line
    and headers (and body) of each request read with :meth:`read_request`."""

    def __init__(self, answer) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.requests: list[tuple[bytes, bytes]] = []
        self.connections: list[socket.socket] = []
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._one, args=(connection,), daemon=True).start()

    def _one(self, connection: socket.socket) -> None:
        try:
            self.answer(self, connection)
        except OSError:
            pass

    def read_request(self, connection: socket.socket) -> bytes:
        connection.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        self.requests.append((head, body))
        return head

    def dsn(self, scheme: str = "http") -> str:
        return f"{scheme}://k@127.0.0.1:{self.port}/7"

    def close(self) -> None:
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)    # wakes accept(): the port is free
        except OSError:
            pass
        self.sock.close()
        for connection in self.connections:
            try:
                connection.close()
            except OSError:
                pass


def ok(server: Server, connection: socket.socket) -> None:
    server.read_request(connection)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")


def silent(server: Server, connection: socket.socket) -> None:
    server.closed.wait(300)


def drip(server: Server, connection: socket.socket) -> None:
    """Answer one byte a second for ever: each recv() gets a byte well
    within a per-operation timeout."""
    server.read_request(connection)
    connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not server.closed.wait(1):
        connection.sendall(b"a")


def drip_body(server: Server, connection: socket.socket) -> None:
    """A 200 whose body comes a byte a second: the envelope was delivered."""
    server.read_request(connection)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    while not server.closed.wait(1):
        connection.sendall(b"a")


def redirect(location: str, code: int = 302):
    def answer(server: Server, connection: socket.socket) -> None:
        server.read_request(connection)
        connection.sendall(f"HTTP/1.1 {code} Moved\r\nLocation: {location}\r\n"
                           "Content-Length: 0\r\n\r\n".encode())
        server.closed.wait(2)
    return answer


def garbage_status(server: Server, connection: socket.socket) -> None:
    server.read_request(connection)
    connection.sendall(b"HTTZ/9 abc\x00\x1b[2J\xff [2026-01-01 00:00:00.000 UTC] forged\r\n\r\n")
    server.closed.wait(2)


@pytest.fixture
def servers():
    started: list[Server] = []

    def start(answer) -> Server:
        server = Server(answer)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def _kept(tmp_path: Path) -> list[dict]:
    folder = tmp_path / "logs" / "unsent-reports"
    if not folder.is_dir():
        return []
    return [json.loads(path.read_text()) for path in sorted(folder.iterdir())]


def _events(server: Server) -> list[dict]:
    return [json.loads(body.split(b"\n", 2)[2]) for _head, body in server.requests]


# One exception per name, each in a thread of its own; then wait for the
# sender (the test's own bound: 90 s, far above the send deadline set).
SENDING_APP = """
    import threading, time, pyqtguard
    pyqtguard.install(report_to={dsn!r}, auto_send=True, repeat_interval=0)
    from pyqtguard.reporting import sender
    sender.DEADLINE = 3.0
    t0 = time.monotonic()
    for name in {names!r}:
        t = threading.Thread(target=lambda: 1 / 0, name=name); t.start(); t.join()
    print("idle:", sender.wait_idle(90), flush=True)
    print("waited: %.1f" % (time.monotonic() - t0), flush=True)
"""


@pytest.mark.parametrize("via_proxy", [False, True], ids=["server", "proxy"])
def test_a_dripping_server_holds_a_send_only_until_its_deadline(tmp_path, servers, via_proxy):
    # urllib's timeout is per socket operation: one byte a second never
    # trips it.  The whole send has a deadline; the report is kept.
    dripping = servers(drip)
    env = None
    dsn = dripping.dsn()
    if via_proxy:
        env = {"http_proxy": f"http://127.0.0.1:{dripping.port}", "no_proxy": ""}
        dsn = "http://k@report-host.invalid/7"
    result = run_app(SENDING_APP.format(dsn=dsn, names=["a"]), tmp_path, env=env, timeout=150)
    assert "idle: True" in result.stdout, result.describe()
    assert "no answer within 3 s" in result.log, result.describe()
    assert len(_kept(tmp_path)) == 1


def test_a_200_whose_body_drips_is_delivered_at_once(tmp_path, servers):
    result = run_app(SENDING_APP.format(dsn=servers(drip_body).dsn(), names=["a"]), tmp_path)
    assert "idle: True" in result.stdout, result.describe()
    assert "sent to sentry" in result.log and "not sent" not in result.log, result.describe()
    assert _kept(tmp_path) == []


def test_stuck_sends_are_bounded_and_later_reports_are_kept_not_queued_for_ever(
        tmp_path, servers):
    dripping = servers(drip)
    result = run_app(SENDING_APP.format(dsn=dripping.dsn(), names=["a", "b", "c", "d"]),
                     tmp_path, timeout=150)
    assert "idle: True" in result.stdout, result.describe()
    log = result.log
    assert log.count("no answer within 3 s") == 2, result.describe()    # MAX_STUCK
    assert log.count("earlier sends are still waiting for an answer") == 2
    assert len(_kept(tmp_path)) == 4
    assert len(dripping.requests) == 2


def test_a_hanging_name_lookup_holds_a_send_only_until_its_deadline(tmp_path):
    # getaddrinfo() ignores socket timeouts; a resolver that never answers
    # is simulated in the app (the lookup sleeps in every thread but main).
    result = run_app("""
        import socket, threading, time
        def lookup(*args, **kwargs):
            time.sleep(3600)
        socket.getaddrinfo = lookup
        import pyqtguard
        pyqtguard.install(report_to="http://k@slow-dns.invalid/7", auto_send=True)
        from pyqtguard.reporting import sender
        sender.DEADLINE = 3.0
        t = threading.Thread(target=lambda: 1 / 0); t.start(); t.join()
        print("idle:", sender.wait_idle(90), flush=True)
    """, tmp_path, timeout=150)
    assert "idle: True" in result.stdout, result.describe()
    assert "no answer within 3 s" in result.log
    assert len(_kept(tmp_path)) == 1


@pytest.mark.parametrize("code,target", [
    (302, "other-host"), (301, "other-host"), (303, "other-host"), (302, "ftp")])
def test_a_redirect_is_not_delivery_and_is_not_followed(tmp_path, servers, code, target):
    other = servers(ok)
    location = (f"http://127.0.0.1:{other.port}/elsewhere" if target == "other-host"
                else f"ftp://127.0.0.1:{other.port}/elsewhere")
    moving = servers(redirect(location, code))
    result = run_app(SENDING_APP.format(dsn=moving.dsn(), names=["a"]), tmp_path)
    assert "idle: True" in result.stdout, result.describe()
    assert other.requests == [] and other.connections == [], other.requests
    assert f"not sent to sentry: HTTPError: HTTP Error {code}" in result.log, result.describe()
    assert len(_kept(tmp_path)) == 1                        # sent at a later start


def test_a_servers_garbage_stays_on_one_line_of_the_log(tmp_path, servers):
    result = run_app(SENDING_APP.format(dsn=servers(garbage_status).dsn(), names=["a"]),
                     tmp_path)
    assert "idle: True" in result.stdout, result.describe()
    (line,) = [line for line in result.log.split("\n") if "not sent to sentry" in line]
    assert "\x00" not in line and "\x1b" not in line and "\r" not in line
    assert line.endswith("(kept; it will be sent at a later start)"), line
    assert "[2026-01-01 00:00:00.000 UTC] forged" not in result.log.replace(line, "")


def test_reports_queued_behind_a_send_on_its_way_are_kept_when_the_app_quits(
        tmp_path, servers):
    quiet = servers(silent)
    app = """
        import sys, threading, pyqtguard
        pyqtguard.install(report_to={dsn!r}, auto_send=True, exit_timeout=5, repeat_interval=0)
        from PyQt6.QtCore import QTimer
        from PyQt6.QtWidgets import QApplication
        app = QApplication(sys.argv)

        def fail(n):
            raise ValueError(f"distinct {{n}}")

        def go():
            for n in range(3):
                threading.Thread(target=fail, args=(n,)).start()
            QTimer.singleShot(1500, app.quit)

        QTimer.singleShot(50, go)
        app.exec()
        print("quit", flush=True)
    """
    started = time.monotonic()
    first = run_app(app.format(dsn=quiet.dsn()), tmp_path)
    assert first.returncode == 0 and "quit" in first.stdout, first.describe()
    assert time.monotonic() - started < 30                  # exit not held by the send
    assert len(_kept(tmp_path)) == 3, first.describe()
    port = quiet.port
    quiet.close()
    collector = _server_on(port)
    try:
        second = send_kept_reports(port, tmp_path, wait=30)
        assert "idle: True" in second.stdout, second.describe()
        values = sorted(e["exception"]["values"][0]["value"] for e in _events(collector))
        assert values == ["distinct 0", "distinct 1", "distinct 2"], second.describe()
        assert _kept(tmp_path) == []
    finally:
        collector.close()


def test_reports_still_queued_in_atexit_are_kept_without_an_uncaught_exception(
        tmp_path, servers):
    # 3.12+: no new thread can start once the interpreter is exiting (an
    # atexit handler runs); a send's thread of its own must not be tried.
    quiet = servers(silent)
    result = run_app(f"""
        import atexit, threading, time, pyqtguard
        pyqtguard.install(report_to={quiet.dsn()!r}, auto_send=True, repeat_interval=0)
        from pyqtguard.reporting import sender
        sender.DEADLINE = 0.3

        def fail(n):
            raise ValueError(n)

        for n in range(4):
            t = threading.Thread(target=fail, args=(n,)); t.start(); t.join()
        atexit.register(time.sleep, 2)          # the app saving at exit
    """, tmp_path)
    assert result.returncode == 0, result.describe()
    assert "uncaught exception in thread 'pyqtguard-report-sender'" not in result.log, \
        result.describe()
    assert "RuntimeError" not in result.stderr
    assert len(_kept(tmp_path)) == 4


@pytest.mark.parametrize("raised", ["SystemExit(3)", "KeyboardInterrupt"])
def test_a_callable_raising_a_base_exception_is_not_delivered_and_the_sender_goes_on(
        tmp_path, raised):
    result = run_app(f"""
        import threading, pyqtguard
        calls = []

        def on_report(report):
            calls.append(report.title)
            raise {raised}

        pyqtguard.install(report_to=on_report, auto_send=True, repeat_interval=0)
        from pyqtguard.reporting import sender
        for name in ("a", "b"):
            t = threading.Thread(target=lambda: 1 / 0, name=name); t.start(); t.join()
        print("idle:", sender.wait_idle(30), "calls:", len(calls), flush=True)
    """, tmp_path)
    assert "idle: True calls: 2" in result.stdout, result.describe()
    assert result.log.count("not sent to callable") == 2, result.describe()
    assert "pyqtguard-report-sender" not in result.stderr       # no uncaught exception there
    kept = _kept(tmp_path)
    assert [item["attempts"] for item in kept] == [1, 1]    # counted: not retried for ever


def test_reports_kept_by_auto_send_wait_for_auto_send_at_a_later_start(tmp_path, servers):
    # auto_send=True sent without a click; if the app's next start has it
    # off (the user withdrew consent), what it kept is not sent.
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    port = refused.getsockname()[1]
    refused.close()
    app = """
        import threading, pyqtguard
        pyqtguard.install(report_to="http://k@127.0.0.1:{port}/7", auto_send={auto})
        from pyqtguard.reporting import sender
        if {fail}:
            t = threading.Thread(target=lambda: 1 / 0); t.start(); t.join()
        print("idle:", sender.wait_idle(30), flush=True)
    """
    first = run_app(app.format(port=port, auto=True, fail=True), tmp_path)
    assert "idle: True" in first.stdout and len(_kept(tmp_path)) == 1, first.describe()
    collector = _server_on(port)                           # the same port, now answering
    try:
        second = run_app(app.format(port=port, auto=False, fail=False), tmp_path)
        assert "idle: True" in second.stdout, second.describe()
        assert collector.requests == [], second.describe()
        third = run_app(app.format(port=port, auto=True, fail=False), tmp_path)
        assert "idle: True" in third.stdout, third.describe()
        assert len(collector.requests) == 1, third.describe()
    finally:
        collector.close()


def _server_on(port: int) -> Server:
    server = Server.__new__(Server)
    server.sock = socket.socket()
    server.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.sock.bind(("127.0.0.1", port))
    server.sock.listen(50)
    server.port = port
    server.answer = ok
    server.requests = []
    server.connections = []
    server.closed = threading.Event()
    threading.Thread(target=server._accept, daemon=True).start()
    return server


def test_environment_proxy_that_is_dead_or_garbage_fails_the_send_only(tmp_path, servers):
    collector = servers(ok)
    for proxy in ("http://127.0.0.1:1", "http://[::1", "::::::"):
        result = run_app(SENDING_APP.format(dsn=collector.dsn(), names=["a"]), tmp_path,
                         env={"http_proxy": proxy, "HTTP_PROXY": proxy, "no_proxy": ""})
        assert result.returncode == 0 and "idle: True" in result.stdout, result.describe()
        assert "not sent to sentry" in result.log
    assert collector.requests == []


def test_keeping_a_report_in_a_folder_of_10000_files_prunes_a_bounded_number(tmp_path):
    # A report is kept by the thread that queues it (the GUI thread): a
    # folder someone filled must not make that one call delete them all.
    from pyqtguard.reporting import unsent
    from pyqtguard.reporting.report import Report

    os.chmod(tmp_path, 0o700)
    folder = tmp_path / unsent.FOLDER_NAME
    folder.mkdir(mode=0o700)
    for n in range(10_000):
        (folder / f"report-{n + 1}-1999999-{n}.json").write_text("{}")
    report = Report("exception", "ValueError: x", "summary", "ValueError: x\n", "k" * 32)
    path = unsent.keep(tmp_path, "sentry:x", report)
    assert os.path.exists(path)
    assert len(os.listdir(folder)) == 10_001 - unsent.MAX_PRUNED
