"""What leaves the machine is what the preview shows, scrubbed: hostile
cases for the privacy promise of docs/reporting.md ("Privacy: scrubbed,
then seen and edited") and the README ("Nothing secret is logged by
default")."""
from __future__ import annotations

import json

import pytest
from apprunner import run_app
from test_reporting import ALICE, Collector, _sdk_events  # noqa: F401 - fixtures' helpers


@pytest.fixture
def collector():
    server = Collector()
    yield server
    server.close()


SDK_SEND_APP = """
    import logging
    import pyqtguard
    pyqtguard.install(report_to={dsn!r})
    import sentry_sdk
    sentry_sdk.init(dsn={dsn!r})          # the SDK's defaults: its integrations too
    logging.getLogger("app").warning("opened /home/alice/diary.txt password=hunter2xyz")
    from pyqtguard import reporting
    from pyqtguard.reporting import sender
    from pyqtguard.reporting.report import Report
    # What the Send button does with the preview's text.
    reporting.send(Report("exception", "ValueError: x", "s", "ValueError: x\\n", "k" * 32))
    print("idle:", sender.wait_idle(15))
    sentry_sdk.flush(10)
"""


def test_with_sentry_sdk_nothing_but_the_preview_is_sent(tmp_path, collector):
    """Handed to an initialised sentry-sdk, the event must not gain what
    the preview did not show: the SDK's own (unscrubbed) log breadcrumbs,
    the argument values (its ArgvIntegration) or the host name (its
    default server_name)."""
    pytest.importorskip("sentry_sdk", reason="sentry-sdk is an optional integration")
    import socket

    result = run_app(SDK_SEND_APP.format(dsn=collector.dsn), tmp_path, env=ALICE,
                     args=["--token", "argsecret456"])
    assert "idle: True" in result.stdout, result.describe()
    (event,) = _sdk_events(collector)
    sent = json.dumps(event)
    assert "argsecret456" not in sent, event.get("extra")
    assert "/home/alice" not in sent and "hunter2xyz" not in sent, event.get("breadcrumbs")
    assert event.get("server_name") != socket.gethostname(), event.get("server_name")
    assert "ValueError: x" in event["extra"]["report"]


# ---- the scrubber on forms of the same private text ---------------------------

@pytest.fixture
def alice(monkeypatch):
    """The user alice, at home in /home/alice, on the host alicebox."""
    import socket

    from pyqtguard.reporting.scrub import Scrubber

    monkeypatch.setenv("HOME", "/home/alice")
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setattr(socket, "gethostname", lambda: "alicebox.corp.example")
    return Scrubber()


@pytest.mark.parametrize("text, private", [
    ("cache in /tmp/alice-cache/x.db", "alice"),                    # user name, then "-"
    ("saved backup-alice.tar", "alice"),                            # "-", then user name
    (r"C:\Users\Alice\AppData\x.py", "Alice"),                      # Windows: any case
    ("logged in as ALICE", "ALICE"),
    ("http://ALICEBOX:8080/status", "ALICEBOX"),                    # host names: any case
    ("open?path=%2Fhome%2Falice%2Fdiary.txt", "alice"),             # percent-encoded
    ("mailto%3Abob%40example.org", "bob"),
    ("q=1&password%3Dhunter2xyz", "hunter2xyz"),
    ('body: {\\"password\\": \\"hunter2xyz\\"}', "hunter2xyz"),      # JSON in JSON
    ("pwd=hunter2xyz", "hunter2xyz"),
    ("passphrase: hunter2xyz", "hunter2xyz"),
    ("private_key=hunter2xyz", "hunter2xyz"),
    ("password = 'correct horse battery'", "battery"),              # quoted, with spaces
    ('password="correct horse battery"', "horse"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA/BG5vbmU+AAAA\n"
     "-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAA"),
], ids=["user-dash", "dash-user", "win-home-case", "user-upper", "host-upper", "pct-path", "pct-email",
        "pct-password", "json-escaped-password", "pwd", "passphrase", "private-key",
        "quoted-spaces", "dquoted-spaces", "pem"])
def test_scrubber_masks_other_forms_of_the_same_private_text(alice, text, private):
    scrubbed = alice(text)
    assert private not in scrubbed, scrubbed


# ---- what is sent beside the text ---------------------------------------------

def _record_from(path: str):
    """An ExceptionRecord of a ValueError raised by code whose file is *path*."""
    from pyqtguard.exceptions.delivery import ExceptionRecord

    namespace: dict = {}
    exec(compile("def load():\n    raise ValueError('bad row')\n", path, "exec"), namespace)
    try:
        namespace["load"]()
    except ValueError as exc:
        return ExceptionRecord(ValueError, exc, exc.__traceback__, "MainThread", 1,
                               "sys.excepthook")
    raise AssertionError("load() did not raise")


def test_the_report_key_sent_as_fingerprint_does_not_depend_on_the_user_name(monkeypatch):
    """The key goes out as the Sentry fingerprint and to callables; a hash
    of the raw frame paths lets whoever receives it test guesses of the
    user name (sha256 of "/home/<guess>/app/app.py:load:2")."""
    from pyqtguard.reporting.report import from_exception
    from pyqtguard.reporting.scrub import Scrubber

    keys = {}
    for user in ("alice", "bob"):
        monkeypatch.setenv("HOME", f"/home/{user}")
        monkeypatch.setenv("USER", user)
        report = from_exception(_record_from(f"/home/{user}/app/app.py"), Scrubber())
        assert user not in report.text
        keys[user] = report.key
    assert keys["alice"] == keys["bob"], keys


def test_breadcrumbs_are_the_log_records_the_apps_filters_let_through_as_they_left_them():
    """An app that drops or redacts records with logging filters keeps that
    text out of its logs: the breadcrumbs (sent with reports) must not bring
    it back."""
    import io
    import logging

    from pyqtguard.reporting import breadcrumbs

    class Drop(logging.Filter):
        def filter(self, record):
            return "ssn" not in record.getMessage()

    class Redact(logging.Filter):
        def filter(self, record):
            record.msg = str(record.msg).replace("4111 1111 1111 1111", "[card]")
            return True

    hr, shop, pay = (logging.getLogger(f"privacy-test.{n}") for n in ("hr", "shop", "pay"))
    handler = logging.StreamHandler(io.StringIO())    # (NullHandler runs no filters)
    handler.addFilter(Redact())
    pay.addHandler(handler)
    hr.addFilter(Drop())
    shop.addFilter(Redact())
    breadcrumbs.install()
    try:
        hr.warning("ssn 078-05-1120 of the new employee")
        shop.warning("paid with 4111 1111 1111 1111")
        pay.warning("charged 4111 1111 1111 1111")
        hr.warning("kept: a line the filters let through")
        lines = "\n".join(breadcrumbs.lines())
    finally:
        breadcrumbs.uninstall()
        hr.filters.clear(); shop.filters.clear(); pay.removeHandler(handler)
    assert "kept: a line the filters let through" in lines
    assert "078-05-1120" not in lines, lines
    assert "4111" not in lines, lines
    assert "paid with [card]" in lines and "charged [card]" in lines, lines


def test_the_envelope_header_names_the_dsn_without_its_secret_key():
    """The deprecated secret part of a DSN (key:secret@) is needed by no one
    who reads an envelope (Relay and tunnels use the public key): as Sentry's
    JavaScript SDK does, it is left out."""
    from pyqtguard.reporting import sentry
    from pyqtguard.reporting.report import Report

    dsn = sentry.parse_dsn("https://pub:topsecret@o1.ingest.sentry.io/42")
    body = sentry.envelope(sentry.event_from_report(
        Report("exception", "T", "s", "T\n", "k" * 32)), dsn)
    header = json.loads(body.split(b"\n", 1)[0])
    assert "topsecret" not in body.decode()
    assert header["dsn"] == "https://pub@o1.ingest.sentry.io/42"
