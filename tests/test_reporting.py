"""Reports that reach the developer (issue 22): a real local HTTP server
(standard library, 127.0.0.1 only) receives the Sentry envelopes of real
apps run as subprocesses; consent (nothing before the click, the edited
preview is what arrives); offline (kept, sent at the next start); the
scrubber; hostile files in the app's log folder."""
from __future__ import annotations

import json
import os
import socket
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from apprunner import run_app, send_kept_reports

from pyqtguard.reporting import offered, unsent
from pyqtguard.reporting.destinations import IssueTracker
from pyqtguard.reporting.report import Report
from pyqtguard.reporting.scrub import Scrubber


class Collector:
    """A Sentry stand-in: stores each envelope POSTed to /api/<id>/envelope/;
    GET /count answers how many arrived."""

    def __init__(self, port: int = 0) -> None:
        self.envelopes: list[tuple[dict, bytes]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":     # sentry-sdk's transport
                    import gzip

                    body = gzip.decompress(body)
                collector.envelopes.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "ok"}')

            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.end_headers()
                self.wfile.write(str(len(collector.envelopes)).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def dsn(self) -> str:
        return f"http://publickey123@127.0.0.1:{self.port}/42"

    def events(self) -> list[dict]:
        return [parse_envelope(body) for _headers, body in self.envelopes]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_envelope(body: bytes) -> dict:
    """The event in an envelope; with sentry-sdk installed, its own parser
    must agree."""
    header_line, item_line, rest = body.split(b"\n", 2)
    header = json.loads(header_line)
    item = json.loads(item_line)
    assert item["type"] == "event"
    payload = rest[:item["length"]]
    event = json.loads(payload)
    assert header["event_id"] == event["event_id"]
    try:
        from sentry_sdk.envelope import Envelope
    except ImportError:
        return event
    parsed = Envelope.deserialize(body)
    assert parsed.get_event()["event_id"] == event["event_id"]
    return event


@pytest.fixture
def collector():
    server = Collector()
    yield server
    server.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ALICE = {"HOME": "/home/alice", "USER": "alice"}

AUTO_SEND_APP = """
    import sys, threading, time
    import pyqtguard
    pyqtguard.install(report_to={dsn!r}, auto_send=True, app_version="2.5.0")
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    import logging
    app = QApplication(sys.argv)
    stop = threading.Event()
    loader = threading.Thread(target=stop.wait, name="loader"); loader.start()

    def decode():
        logging.getLogger("app.io").warning("opening /home/alice/rows.csv")
        raise ValueError("bad row for alice@example.org, api_key=sk_live_abcdefgh12345678")

    def go():
        threading.Thread(target=decode, name="decoder-7").start()
        QTimer.singleShot(500, finish)

    def finish():
        from pyqtguard.reporting import sender
        print("idle:", sender.wait_idle(15))
        stop.set(); app.quit()

    QTimer.singleShot(50, go)
    app.exec()
"""


def test_sentry_receives_the_event_with_threads_frames_tags_scrubbed(tmp_path, collector):
    result = run_app(AUTO_SEND_APP.format(dsn=collector.dsn), tmp_path, env=ALICE)
    assert "idle: True" in result.stdout, result.describe()
    assert len(collector.envelopes) == 1, result.describe()
    headers, body = collector.envelopes[0]
    assert "sentry_key=publickey123" in headers["X-Sentry-Auth"]
    assert headers["Content-Type"] == "application/x-sentry-envelope"
    event = parse_envelope(body)
    (exc,) = event["exception"]["values"]
    assert exc["type"] == "ValueError"
    assert exc["mechanism"] == {"type": "pyqtguard", "handled": False}
    functions = [f["function"] for f in exc["stacktrace"]["frames"]]
    assert functions[-1] == "decode"                      # oldest first, as Sentry wants
    threads = {t["name"]: t for t in event["threads"]["values"]}
    assert {"MainThread", "loader", "decoder-7"} <= set(threads), threads.keys()
    assert threads["decoder-7"]["crashed"] and not threads["loader"]["crashed"]
    assert exc["thread_id"] == threads["decoder-7"]["id"]
    assert threads["decoder-7"]["stacktrace"]["frames"][-1]["function"] == "decode"
    assert any(f["function"] == "wait" for f in threads["loader"]["stacktrace"]["frames"])
    assert sum(t["current"] for t in threads.values()) == 1
    tags = event["tags"]
    assert tags["app"] == "2.5.0" and event["release"] == "2.5.0"
    assert {"python", "qt", "pyqt6", "os"} <= set(tags)
    assert event["level"] == "error"
    crumbs = [c["message"] for c in event["breadcrumbs"]["values"]]
    assert any("WARNING app.io: opening ~/rows.csv" in c for c in crumbs), crumbs
    # Scrubbed everywhere: home, user, e-mail, key.
    text = body.decode()
    assert "/home/alice" not in text and "alice" not in text
    assert "sk_live_abcdefgh12345678" not in text
    assert "<email>" in exc["value"] and "api_key=<secret>" in exc["value"]


def test_native_crash_is_sent_at_next_start_with_a_mechanism_saying_so(tmp_path, collector):
    crash = """
        import ctypes, threading, pyqtguard
        pyqtguard.install(report_to={dsn!r}, auto_send=True)
        t = threading.Thread(target=lambda: ctypes.string_at(0), name="decoder-7")
        t.start(); t.join()
    """
    first = run_app(crash.format(dsn=collector.dsn), tmp_path, env=ALICE)
    assert first.returncode != 0 and not collector.envelopes, first.describe()
    nothing = """
        import pyqtguard
        pyqtguard.install(report_to={dsn!r}, auto_send=True)
        from pyqtguard.reporting import sender
        print("idle:", sender.wait_idle(15))
    """
    second = run_app(nothing.format(dsn=collector.dsn), tmp_path, env=ALICE)
    assert "idle: True" in second.stdout, second.describe()
    assert len(collector.envelopes) == 1, second.describe()
    event = parse_envelope(collector.envelopes[0][1])
    assert event["level"] == "fatal"
    (exc,) = event["exception"]["values"]
    assert exc["type"] == "SIGSEGV"
    assert exc["mechanism"]["type"] == "pyqtguard.native_crash"
    assert exc["mechanism"]["meta"]["signal"] == {"name": "SIGSEGV", "number": 11}
    assert "next start" in exc["mechanism"]["description"]
    threads = {t["name"]: t for t in event["threads"]["values"]}
    assert threads["decoder-7"]["crashed"] and not threads["MainThread"]["crashed"]
    assert exc["thread_id"] == threads["decoder-7"]["id"]
    # Once: a third start sends nothing more.
    third = run_app(nothing.format(dsn=collector.dsn), tmp_path, env=ALICE)
    assert "idle: True" in third.stdout
    assert len(collector.envelopes) == 1


CONSENT_APP = """
    import sys, urllib.request
    import pyqtguard
    pyqtguard.install(dialogs=True, report_to={dsn!r})
    from PyQt6.QtCore import QTimer, Qt, QObject, pyqtSignal
    from PyQt6.QtWidgets import QApplication
    from PyQt6.QtTest import QTest
    app = QApplication(sys.argv)

    def count():
        return urllib.request.urlopen("http://127.0.0.1:{port}/count", timeout=5).read().decode()

    class Source(QObject):
        fire = pyqtSignal()

    def slot():
        raise RuntimeError("the printer caught fire")

    source = Source(); source.fire.connect(slot)
    from pyqtguard.dialogs import notification, report_dialog
    from pyqtguard.reporting import sender

    def step1():
        source.fire.emit()
        QTimer.singleShot(800, step2)

    def step2():
        sender.wait_idle(10)
        print("before click:", count())
        w = notification.notifier().widget
        print("report button:", w.report.isVisible())
        QTest.mouseClick(w.report, Qt.MouseButton.LeftButton)
        (dialog,) = report_dialog._open
        text = dialog.preview.toPlainText()
        text = text.replace("the printer caught fire", "the printer caught fire EDITED")
        text = "\\n".join(l for l in text.split("\\n") if not l.startswith("  pyqtguard:"))
        dialog.preview.setPlainText(text + "\\nUSER NOTE: I pressed Print twice\\n")
        print("after edit, before send:", count())
        QTest.mouseClick(dialog.send, Qt.MouseButton.LeftButton)
        QTimer.singleShot(100, lambda: step3(dialog))

    def step3(dialog, tries=[0]):
        if dialog.status.text() == "Sending..." and tries[0] < 100:
            tries[0] += 1
            QTimer.singleShot(100, lambda: step3(dialog))
            return
        print("status:", dialog.status.text())
        print("after send:", count())
        app.quit()

    QTimer.singleShot(50, step1)
    app.exec()
"""


def test_nothing_is_sent_before_the_click_and_the_edited_preview_is_what_arrives(
        tmp_path, collector):
    result = run_app(CONSENT_APP.format(dsn=collector.dsn, port=collector.port), tmp_path)
    out = result.stdout
    assert "before click: 0" in out, result.describe()
    assert "report button: True" in out
    assert "after edit, before send: 0" in out
    assert "status: Sent. Thank you!" in out, result.describe()
    assert "after send: 1" in out
    (event,) = collector.events()
    sent = event["extra"]["report"]
    assert "USER NOTE: I pressed Print twice" in sent
    assert "  pyqtguard:" not in sent
    assert event["exception"]["values"][0]["value"] == "the printer caught fire EDITED"
    assert event["exception"]["values"][0]["type"] == "RuntimeError"


def test_server_down_report_is_kept_and_sent_at_the_next_start(tmp_path):
    port = _free_port()
    app = """
        import threading, pyqtguard
        pyqtguard.install(report_to="http://k@127.0.0.1:{port}/7", auto_send=True)
        from pyqtguard.reporting import sender
        if {raise_it}:
            t = threading.Thread(target=lambda: 1 / 0, name="divider"); t.start(); t.join()
        print("idle:", sender.wait_idle(15))
    """
    first = run_app(app.format(port=port, raise_it=True), tmp_path)
    assert "idle: True" in first.stdout, first.describe()
    kept = list((tmp_path / "logs" / "unsent-reports").iterdir())
    assert len(kept) == 1, first.describe()
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(kept[0].parent.stat().st_mode) == 0o700
    assert "not sent to sentry" in first.log
    server = Collector(port)
    try:
        second = run_app(app.format(port=port, raise_it=False), tmp_path)
        assert "idle: True" in second.stdout, second.describe()
        (event,) = server.events()
        assert event["exception"]["values"][0]["type"] == "ZeroDivisionError"
        assert list((tmp_path / "logs" / "unsent-reports").iterdir()) == []
    finally:
        server.close()


SDK_APP = """
    import sys, threading
    import pyqtguard
    pyqtguard.install(report_to={dsn!r}, auto_send={auto})
    import sentry_sdk
    sentry_sdk.init(dsn={dsn!r}, release="sdk-release-1")     # default integrations: its hooks too
    from pyqtguard.reporting import sender

    def decode():
        raise ValueError("bad row")

    t = threading.Thread(target=decode, name="decoder-7"); t.start(); t.join()
    try:
        {{}}["missing"]
    except KeyError:
        sys.excepthook(*sys.exc_info())
    print("idle:", sender.wait_idle(15))
    sentry_sdk.flush(10)
"""


def _sdk_events(server: Collector) -> list[dict]:
    from sentry_sdk.envelope import Envelope

    events = []
    for _headers, body in server.envelopes:
        event = Envelope.deserialize(body).get_event()
        if event is not None:
            events.append(event)
    return events


@pytest.mark.parametrize("auto", [True, False])
def test_with_sentry_sdk_initialised_events_go_through_it_once_and_only_with_consent(
        tmp_path, collector, auto):
    pytest.importorskip("sentry_sdk", reason="sentry-sdk is an optional integration")
    result = run_app(SDK_APP.format(dsn=collector.dsn, auto=auto), tmp_path)
    assert "idle: True" in result.stdout, result.describe()
    events = _sdk_events(collector)
    if not auto:
        # The SDK's own hooks saw both exceptions; nothing was sent.
        assert events == [], [e.get("exception") for e in events]
        return
    types = sorted(e["exception"]["values"][0]["type"] for e in events)
    assert types == ["KeyError", "ValueError"], result.describe()      # once each
    for event in events:
        assert event["exception"]["values"][0]["mechanism"]["type"] == "pyqtguard"
        assert event["release"] == "sdk-release-1"                       # the SDK's own
        assert "report" in event["extra"]
    (value_error,) = [e for e in events if e["exception"]["values"][0]["type"] == "ValueError"]
    names = {t["name"] for t in value_error["threads"]["values"]}
    assert {"decoder-7", "MainThread"} <= names


def test_a_callable_destination_gets_the_report(tmp_path):
    result = run_app("""
        import threading, pyqtguard
        got = []
        pyqtguard.install(report_to=got.append, auto_send=True)
        from pyqtguard.reporting import sender
        t = threading.Thread(target=lambda: {}["k"], name="looker"); t.start(); t.join()
        sender.wait_idle(15)
        print(len(got), got[0].kind, got[0].title)
        print("thread block:", "Thread 'looker'" in got[0].text)
    """, tmp_path)
    assert "1 exception KeyError: 'k'" in result.stdout, result.describe()
    assert "thread block: True" in result.stdout


# ---- in-process pieces --------------------------------------------------------

def test_scrubber_masks_home_user_host_email_and_secrets(monkeypatch):
    monkeypatch.setenv("HOME", "/home/zoe")
    monkeypatch.setenv("USER", "zoe")
    host = socket.gethostname()
    scrub = Scrubber()
    text = scrub(
        f"/home/zoe/app.py zoe@work.example.com zoe on {host}\n"
        "password=hunter2 token: abc.def Authorization: Bearer abcdefghijklmnop\n"
        "https://bob:pa55@git.example.org/x ghp_0123456789abcdefghij0123456789abcdef\n"
        "key 0123456789abcdef0123456789abcdef01 eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl\n"
        "zoetrope and /home/zoeb stay")
    assert "~/app.py <email> <user> on" in text
    if len(host) >= 3 and host.lower() not in ("localhost",):
        assert host not in text
    assert "password=<secret>" in text and "token: <secret>" in text
    assert "hunter2" not in text and "abcdefghijklmnop" not in text
    assert "https://<secret>@git.example.org/x" in text
    assert "ghp_" not in text and "0123456789abcdef0123456789abcdef01" not in text
    assert "eyJ" not in text
    assert "zoetrope" in text and "/home/zoeb" in text


def test_scrubber_extra_patterns_and_a_failing_custom_function():
    scrub = Scrubber(home=False, user=False, host=False,
                     extra_patterns=[(r"customer-\d+", "<customer>")],
                     custom=lambda text: text.replace("ACME", "<company>"))
    assert scrub("customer-123 of ACME") == "<customer> of <company>"

    def broken(text):
        raise RuntimeError("app bug")

    assert Scrubber(home=False, user=False, host=False, custom=broken)("a@b.org") == "<email>"
    with pytest.raises(ValueError, match="bad pattern"):
        Scrubber(extra_patterns=[("(", "x")])
    with pytest.raises(TypeError):
        Scrubber(extra_patterns=["not a pair"])  # type: ignore[list-item]


def _report(text: str = "ValueError: x\n") -> Report:
    return Report("exception", "ValueError: x", "summary", text, "k" * 32)


def test_issue_url_is_prefilled_and_cut_to_the_url_limit():
    tracker = IssueTracker("https://github.com/me/app", labels=["crash"])
    short = tracker.new_issue_url(_report())
    assert short.startswith("https://github.com/me/app/issues/new?title=ValueError%3A%20x")
    assert "labels=crash" in short and "body=%60%60%60" in short
    huge = tracker.new_issue_url(_report("line of text\n" * 5000))
    assert len(huge) <= 8000
    assert "clipboard" in huge
    gitlab = IssueTracker("https://gitlab.com/me/app").new_issue_url(_report())
    assert gitlab.startswith("https://gitlab.com/me/app/-/issues/new?issue%5Btitle%5D=")
    with pytest.raises(ValueError):
        IssueTracker("https://github.com/")


def test_unsent_folder_is_read_as_hostile_input(tmp_path):
    os.chmod(tmp_path, 0o700)
    good = unsent.keep(tmp_path, "sentry:x", _report())
    folder = tmp_path / unsent.FOLDER_NAME
    os.mkfifo(folder / "report-1-999999999-1.json")                     # would block an open()
    (folder / "report-2-999999999-1.json").symlink_to("/dev/zero")      # would never end
    (folder / "report-3-999999999-1.json").write_bytes(b"{" * 10)       # not a report
    big = folder / "report-4-999999999-1.json"
    with open(big, "wb") as handle:
        handle.truncate(unsent.MAX_BYTES + 1)                   # too large
    (folder / "report-5-999999999-1.json").write_text(json.dumps(
        {"destination": "x", "attempts": 0, "report": {"kind": "evil"}}))
    found = unsent.pending(tmp_path)
    assert [p.path for p in found] == [good]
    assert found[0].report.text == "ValueError: x\n"
    assert not (folder / "report-3-999999999-1.json").exists() and not big.exists()
    assert not (folder / "report-5-999999999-1.json").exists()
    assert (folder / "report-1-999999999-1.json").exists()              # skipped, not touched


def test_reports_of_a_copy_of_the_app_still_running_are_left_to_it(tmp_path):
    import subprocess
    import sys

    os.chmod(tmp_path, 0o700)
    path = unsent.keep(tmp_path, "sentry:x", _report())
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        theirs = os.path.join(os.path.dirname(path), f"report-1-{other.pid}-0.json")
        os.rename(path, theirs)
        assert unsent.pending(tmp_path) == []          # on its way, maybe
    finally:
        other.kill()
        other.wait()
    assert [p.path for p in unsent.pending(tmp_path)] == [theirs]


def test_unsent_reports_are_bounded_and_retried_at_most_n_times(tmp_path):
    os.chmod(tmp_path, 0o700)
    for _ in range(unsent.MAX_FILES + 5):
        unsent.keep(tmp_path, "sentry:x", _report())
    assert len(unsent.pending(tmp_path)) == unsent.MAX_FILES
    for item in unsent.pending(tmp_path)[1:]:
        item.done()
    for _attempt in range(unsent.MAX_ATTEMPTS):
        (item,) = unsent.pending(tmp_path)
        item.failed()
    assert unsent.pending(tmp_path) == []


def test_offered_state_is_read_as_hostile_input(tmp_path):
    os.chmod(tmp_path, 0o700)
    assert not offered.was_offered(tmp_path, "crash:a.log")
    assert offered.mark_offered(tmp_path, "crash:a.log")
    assert offered.was_offered(tmp_path, "crash:a.log")
    path = tmp_path / offered.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.unlink()
    os.mkfifo(path)                                  # a FIFO: unknown -> not offered again
    assert offered.was_offered(tmp_path, "crash:b.log")
    assert not offered.mark_offered(tmp_path, "crash:b.log")
    path.unlink()
    target = tmp_path / "elsewhere"
    target.write_text("")
    path.symlink_to(target)                          # never written through
    assert not offered.mark_offered(tmp_path, "crash:b.log")
    assert target.read_text() == ""
    with pytest.raises(ValueError):
        offered.mark_offered(tmp_path, "crash:../../etc/passwd\n")


# An auto_send app that reports one IndexError and ends (os._exit) 1.5 s
# later, while the report is on its way to the server on *port*.
ENDS_WHILE_SENDING = """
    import os, threading, time, pyqtguard
    pyqtguard.install(report_to="http://k@127.0.0.1:{port}/7", auto_send=True)
    t = threading.Thread(target=lambda: [][1], name="indexer"); t.start(); t.join()
    time.sleep(1.5)
    os._exit(0)
"""


def _resent_event(port: int, tmp_path) -> dict:
    """The next start sends the kept report (ENDS_WHILE_SENDING's IndexError)
    to a Collector on *port*: the one event it received."""
    server = Collector(port)
    try:
        second = send_kept_reports(port, tmp_path)
        assert "idle: True" in second.stdout, second.describe()
        (event,) = server.events()
        assert event["exception"]["values"][0]["type"] == "IndexError"
        return event
    finally:
        server.close()


def test_a_report_on_its_way_when_the_process_ends_is_sent_at_the_next_start(tmp_path):
    # A server that accepts the connection and never answers: the process
    # ends (os._exit) while the report is being sent.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    port = silent.getsockname()[1]
    try:
        first = run_app(ENDS_WHILE_SENDING.format(port=port), tmp_path)
        assert first.returncode == 0, first.describe()
        assert len(list((tmp_path / "logs" / "unsent-reports").iterdir())) == 1
    finally:
        silent.close()
    _resent_event(port, tmp_path)
    assert list((tmp_path / "logs" / "unsent-reports").iterdir()) == []


class ReadsButNeverAnswers:
    """A server that reads each request whole and never answers: the
    report arrived, but its sender cannot know."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.bodies: list[bytes] = []
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, body = data.split(b"\r\n\r\n", 1)
            length = int([line.split(b":", 1)[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")][0])
            while len(body) < length:
                body += conn.recv(65536)
            self.bodies.append(body)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)     # wakes the accept() so the port is free
        except OSError:
            pass
        self.sock.close()


def test_a_report_delivered_but_unanswered_is_sent_again_under_the_same_event_id(tmp_path):
    # The server got the report and the process ended before its answer:
    # the kept copy is sent at the next start (at least once).  It carried a
    # new random event_id, so Sentry stored the error twice; with the same
    # one Sentry drops the second copy.
    silent = ReadsButNeverAnswers()
    port = silent.port
    try:
        first = run_app(ENDS_WHILE_SENDING.format(port=port), tmp_path)
        assert first.returncode == 0, first.describe()
        assert len(silent.bodies) == 1, first.describe()
        delivered = parse_envelope(silent.bodies[0])
    finally:
        silent.close()
    again = _resent_event(port, tmp_path)
    assert again["event_id"] == delivered["event_id"]


def test_two_occurrences_of_one_error_are_two_events(tmp_path, collector):
    # The event_id names a report, not an error: the same exception raised
    # twice (repeat_interval=0: both reported) is two events.
    result = run_app(f"""
        import threading, pyqtguard
        pyqtguard.install(report_to={collector.dsn!r}, auto_send=True, repeat_interval=0)
        from pyqtguard.reporting import sender
        def fail():
            [][1]
        for _ in range(2):
            t = threading.Thread(target=fail, name="indexer"); t.start(); t.join()
        print("idle:", sender.wait_idle(15))
    """, tmp_path)
    assert "idle: True" in result.stdout, result.describe()
    events = collector.events()
    assert len(events) == 2, result.describe()
    assert events[0]["event_id"] != events[1]["event_id"]


def test_auto_send_sends_at_most_20_reports_per_run(tmp_path):
    result = run_app("""
        import threading, pyqtguard
        got = []
        pyqtguard.install(report_to=got.append, auto_send=True, repeat_interval=0)
        from pyqtguard.reporting import sender

        def fail(n):
            raise ValueError(n)

        for n in range(50):
            t = threading.Thread(target=fail, args=(n,)); t.start(); t.join()
        sender.wait_idle(15)
        import time; time.sleep(0.5); sender.wait_idle(15)
        print("sent:", len(got))
    """, tmp_path)
    assert "sent: 20" in result.stdout, result.describe()
    assert "20 reports sent automatically in this run" in result.log


def test_reports_carry_the_last_log_lines_and_qt_messages_scrubbed(tmp_path):
    result = run_app("""
        import logging, threading, pyqtguard
        got = []
        pyqtguard.install(report_to=got.append, auto_send=True)
        from PyQt6.QtCore import qWarning
        from pyqtguard.reporting import sender
        logging.getLogger("app.db").warning("connecting as alice to db.internal")
        logging.getLogger("app.db").debug("not a breadcrumb: below INFO")
        qWarning(b"QPainter::begin: Paint device returned engine == 0")
        for n in range(40):
            logging.getLogger("app.loop").warning("tick %d", n)
        t = threading.Thread(target=lambda: 1 / 0); t.start(); t.join()
        sender.wait_idle(15)
        print(got[0].text.split("Recent log lines (oldest first):")[1])
    """, tmp_path, env=ALICE)
    crumbs = result.stdout
    assert "WARNING app.loop: tick 39" in crumbs, result.describe()
    assert "tick 9\n" not in crumbs                      # the last 30 only
    assert "below INFO" not in crumbs
    assert len([line for line in crumbs.splitlines() if line.strip()]) == 30
    result2 = run_app("""
        import logging, threading, pyqtguard
        got = []
        pyqtguard.install(report_to=got.append, auto_send=True)
        from PyQt6.QtCore import qWarning
        from pyqtguard.reporting import sender
        logging.getLogger("app.db").warning("connecting as alice to db.internal")
        qWarning(b"QPainter::begin: Paint device returned engine == 0")
        t = threading.Thread(target=lambda: 1 / 0); t.start(); t.join()
        sender.wait_idle(15)
        print(got[0].text.split("Recent log lines (oldest first):")[1])
    """, tmp_path, env=ALICE)
    crumbs = result2.stdout
    assert "WARNING app.db: connecting as <user> to db.internal" in crumbs, result2.describe()
    assert "pyqtguard.qt: Qt warning" in crumbs and "QPainter::begin" in crumbs, crumbs
