"""Sentry-compatible services (sentry.io, self-hosted Sentry, GlitchTip):
events built from a report's text, sent as envelopes with the standard
library, or handed to ``sentry-sdk`` when the app initialised it.

The envelope format is Sentry's (https://develop.sentry.dev/sdk/envelopes/):
a JSON header line, an item header line, the event JSON.  Example::

    dsn = parse_dsn("https://abc123@o1.ingest.sentry.io/42")
    body = envelope(event_from_report(report), dsn)
    # POST body to dsn.envelope_url with dsn.auth_header()
"""
from __future__ import annotations

import hashlib
import json
import re
import time

from .._version import __version__
from . import textparse
from .report import BREADCRUMBS_HEADING, Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CLIENT = f"pyqtguard/{__version__}"
MAX_EVENT_BYTES = 900_000          # Sentry refuses events over 1 MB
_SIGNAL = re.compile(r"^(?P<name>SIG[A-Z0-9]+)(?: \((?P<text>.*)\))?$")
_SIGNAL_NUMBERS = {"SIGSEGV": 11, "SIGABRT": 6, "SIGBUS": 7, "SIGFPE": 8, "SIGILL": 4}


class Dsn:
    """A parsed DSN: ``public_key``, ``envelope_url``, ``text`` (the DSN
    without its secret key, if it had one)."""

    __slots__ = ("text", "public_key", "envelope_url", "project_id")

    def __init__(self, text: str, public_key: str, envelope_url: str, project_id: str) -> None:
        self.text = text
        self.public_key = public_key
        self.envelope_url = envelope_url
        self.project_id = project_id

    def auth_header(self) -> str:
        return (f"Sentry sentry_version=7, sentry_key={self.public_key}, "
                f"sentry_client={CLIENT}")

    def __repr__(self) -> str:
        return f"Dsn({self.envelope_url!r})"


def parse_dsn(text: str) -> Dsn:
    """``scheme://public_key[:secret]@host[:port]/[path/]project_id``;
    ValueError naming what is wrong otherwise."""
    from urllib.parse import urlsplit

    if not isinstance(text, str):
        raise TypeError(f"a DSN must be a str, not {type(text).__name__}")
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"DSN {text!r}: the scheme must be http or https")
    if not parts.username or not parts.hostname:
        raise ValueError(f"DSN {text!r}: expected https://<key>@<host>/<project>")
    path, _, project = parts.path.rstrip("/").rpartition("/")
    if not project.isdigit() and not re.fullmatch(r"[\w-]{1,64}", project):
        raise ValueError(f"DSN {text!r}: no project id at the end of the path")
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in (parts.hostname or ""):
        host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    url = f"{parts.scheme}://{host}{path}/api/{project}/envelope/"
    # Without the deprecated secret key (key:secret@): Dsn.text goes out in
    # every envelope's header.
    public = f"{parts.scheme}://{parts.username}@{host}{parts.path}"
    if parts.query:
        public += f"?{parts.query}"
    return Dsn(public, parts.username, url, project)


def _in_app(filename: str) -> bool:
    lowered = filename.replace("\\", "/")
    return not any(part in lowered for part in ("/site-packages/", "/dist-packages/",
                                                "/lib/python3", "/pyqtguard/", "<frozen"))


def _sentry_frames(frames: list[dict[str, object]]) -> list[dict[str, object]]:
    return [dict(frame, in_app=_in_app(str(frame["filename"])),
                 abs_path=frame["filename"]) for frame in frames]


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        f".{int((seconds % 1) * 1000):03d}Z"


def _crash_exception(report: Report, threads: list[dict[str, Any]]) -> dict[str, Any]:
    """A native crash as an exception value whose mechanism says it was a
    signal in the previous run, sent at a later start."""
    header = report.text.split("\n")
    reason = next((line.partition(": ")[2] for line in header
                   if line.startswith(("signal: ", "fatal: "))), report.title)
    match = _SIGNAL.match(reason)
    crashed = next((t for t in threads if t["crashed"]), None)
    mechanism: dict[str, Any] = {
        "type": "pyqtguard.native_crash", "handled": False, "synthetic": True,
        "description": "a native crash in an earlier run of the app, "
                       "reported by pyqtguard at the next start",
    }
    if match:
        mechanism["meta"] = {"signal": {"name": match["name"],
                                        "number": _SIGNAL_NUMBERS.get(match["name"], 0)}}
        value_type, value = match["name"], match["text"] or reason
    else:
        value_type, value = "Fatal", reason
    exception: dict[str, Any] = {"type": value_type, "value": value, "mechanism": mechanism}
    if crashed is not None:
        exception["thread_id"] = crashed["id"]
        exception["stacktrace"] = {"frames": crashed["stacktrace"]["frames"]}
    return exception


def report_event_id(report: Report) -> str:
    """The event's id, the same each time *report* is sent: a kept copy sent
    again at the next start (the server had it, but its answer never came)
    is then dropped by Sentry as a duplicate rather than stored twice.  From
    what is sent and when the report was made, so another occurrence of the
    same error, or an edited preview, is an event of its own."""
    digest = hashlib.sha256(f"{report.created!r}\0{report.text}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


def event_from_report(report: Report, *, environment: str | None = None) -> dict[str, Any]:
    """The Sentry event for *report*, every part read from its text."""
    text = report.text
    threads = []
    for index, thread in enumerate(textparse.parse_threads(text)):
        threads.append({
            "id": thread["native_id"] if thread["native_id"] is not None else index,
            "name": thread["name"], "crashed": thread["crashed"], "current": thread["current"],
            "stacktrace": {"frames": _sentry_frames(thread["frames"])},  # type: ignore[arg-type]
        })
    tags = textparse.parse_versions(text)
    event: dict[str, Any] = {
        "event_id": report_event_id(report),
        "timestamp": _iso(report.created),
        "platform": "python",
        "level": "fatal" if report.kind == "crash" else "error",
        "logger": "pyqtguard",
        "message": {"formatted": report.title},
        "tags": {key: value for key, value in tags.items()},
        "contexts": {"runtime": {"name": "CPython", "version": tags.get("python", "")},
                     "os": {"name": tags.get("os", "")}},
        "extra": {"report": text},
        "sdk": {"name": "pyqtguard", "version": __version__},
        "fingerprint": [report.key],
    }
    if "app" in tags:
        event["release"] = tags["app"]
    if environment:
        event["environment"] = environment
    if threads:
        event["threads"] = {"values": threads}
    if report.kind == "crash":
        event["exception"] = {"values": [_crash_exception(report, threads)]}
    else:
        values = []
        crashed = next((t for t in threads if t["crashed"]), None)
        for exc in textparse.parse_exceptions(text):
            value: dict[str, Any] = {
                "type": exc["type"], "value": exc["value"],
                "mechanism": {"type": "pyqtguard", "handled": False},
                "stacktrace": {"frames": _sentry_frames(exc["frames"])},  # type: ignore[arg-type]
            }
            if crashed is not None:
                value["thread_id"] = crashed["id"]
            values.append(value)
        if values:
            event["exception"] = {"values": values}
    crumbs = textparse.parse_log_lines(text, BREADCRUMBS_HEADING)
    if crumbs:
        event["breadcrumbs"] = {"values": [{"category": "log", "message": line,
                                            "timestamp": _iso(report.created)}
                                           for line in crumbs]}
    return event


def _fit(event: dict[str, Any]) -> bytes:
    """The event's JSON, cut (the full text first, then frames) to fit."""
    data = json.dumps(event, ensure_ascii=False).encode("utf-8")
    if len(data) > MAX_EVENT_BYTES:
        event["extra"]["report"] = event["extra"]["report"][:MAX_EVENT_BYTES // 4] + "\n[cut]"
        data = json.dumps(event, ensure_ascii=False).encode("utf-8")
    if len(data) > MAX_EVENT_BYTES:
        for thread in event.get("threads", {}).get("values", []):
            thread["stacktrace"]["frames"] = thread["stacktrace"]["frames"][-20:]
        data = json.dumps(event, ensure_ascii=False).encode("utf-8")
    return data


def envelope(event: dict[str, Any], dsn: Dsn) -> bytes:
    """The envelope carrying *event*: header, item header, payload."""
    payload = _fit(event)
    header = {"event_id": event["event_id"], "dsn": dsn.text,
              "sent_at": _iso(time.time()), "sdk": {"name": "pyqtguard", "version": __version__}}
    item = {"type": "event", "length": len(payload), "content_type": "application/json"}
    return b"\n".join([json.dumps(header).encode(), json.dumps(item).encode(), payload]) + b"\n"


def post_envelope(body: bytes, dsn: Dsn, timeout: float) -> None:
    """POST *body*; OSError (URLError, a timeout, an HTTP error) on failure.

    A redirect is a failure too (``HTTPError`` 3xx), never followed: urllib
    would follow a 301/302/303 as a GET without the envelope, to any host or
    to ``ftp://``, with the ``X-Sentry-Auth`` header, and count its 200 as
    delivered.  The environment's proxies (``HTTPS_PROXY``...) are used.
    The answer's status is the outcome; its body is not read (a server
    dripping it would hold the send to its deadline, delivered or not)."""
    import urllib.request

    request = urllib.request.Request(
        dsn.envelope_url, data=body, method="POST",
        headers={"Content-Type": "application/x-sentry-envelope",
                 "X-Sentry-Auth": dsn.auth_header(), "User-Agent": CLIENT})

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            return None             # urllib then raises HTTPError for the 3xx

    opener = urllib.request.build_opener(NoRedirects)
    opener.open(request, timeout=timeout).close()


def active_sdk() -> Any:
    """The ``sentry_sdk`` module if the app imported and initialised it."""
    import sys

    sdk = sys.modules.get("sentry_sdk")
    if sdk is None:
        return None
    try:
        client = sdk.get_client()
        return sdk if client.is_active() else None
    except Exception:  # noqa: BLE001 - an SDK too old or too new
        return None


def capture_with_sdk(sdk: Any, event: dict[str, Any]) -> None:
    """Hand *event* to an initialised ``sentry-sdk`` (its transport, its
    ``before_send``, the app's scope) without what the preview did not show:
    the SDK's own breadcrumbs (log lines it recorded, not scrubbed), the
    argument values its ArgvIntegration adds (``extra["sys.argv"]``) and the
    host name it uses as ``server_name`` by default.  A processor on a new
    current scope runs after the SDK's and puts the report's breadcrumbs
    back; a ``server_name`` the app chose itself is left to it."""
    import copy
    import socket

    breadcrumbs = copy.deepcopy(event.get("breadcrumbs"))
    event_id = event["event_id"]
    try:
        chosen = sdk.get_client().options.get("server_name")
        # The SDK's default is socket.gethostname() (not getfqdn(), which
        # may wait on DNS).
        hosts = {socket.gethostname()}
    except Exception:  # noqa: BLE001 - an SDK without options: mask it
        chosen, hosts = None, set()
    if chosen is None or chosen in hosts:
        event["server_name"] = "<host>"     # set: the SDK fills only a missing one

    def only_the_report(sent: dict[str, Any], hint: object) -> dict[str, Any]:
        if sent.get("event_id") != event_id:
            return sent
        extra = sent.get("extra")
        if isinstance(extra, dict):
            extra.pop("sys.argv", None)
        if breadcrumbs is None:
            sent.pop("breadcrumbs", None)
        else:
            sent["breadcrumbs"] = copy.deepcopy(breadcrumbs)
        return sent

    new_scope = getattr(sdk, "new_scope", None) or sdk.push_scope
    with new_scope() as scope:
        scope.add_event_processor(only_the_report)
        sdk.capture_event(event)


# Mechanisms of sentry-sdk's own hooks, which see the same uncaught exceptions
# pyqtguard reports (with the user's consent): their events are dropped.
SDK_HOOK_MECHANISMS = frozenset({"excepthook", "threading", "unraisablehook"})
_processor_added = False


def _drop_sdk_hook_events(event: dict[str, Any], hint: object) -> dict[str, Any] | None:
    for value in (event.get("exception") or {}).get("values") or ():
        mechanism = value.get("mechanism") or {}
        if mechanism.get("type") in SDK_HOOK_MECHANISMS:
            return None
    return event


def take_over_sdk_hooks() -> bool:
    """Drop the events of ``sentry-sdk``'s own exception hooks (excepthook,
    threading, unraisablehook, and its logging integration's copy of the
    ``pyqtguard`` logger's records): pyqtguard reports those exceptions itself,
    after the user's consent, and hands them to the SDK when the app
    initialised it - one event each, and none without the click.  Called
    when ``sentry_sdk`` is imported (a global event processor works before
    and after ``init``); idempotent; False if the SDK has no such hook."""
    global _processor_added
    if not _processor_added:
        try:
            from sentry_sdk.scope import add_global_event_processor

            from sentry_sdk.integrations.logging import ignore_logger

            add_global_event_processor(_drop_sdk_hook_events)
            # pyqtguard logs each uncaught exception at ERROR on its logger:
            # the SDK's logging integration would make that an event too.
            ignore_logger("pyqtguard")
            _processor_added = True
        except Exception:  # noqa: BLE001 - an SDK without it: double reports
            return False
    return True
