"""Where reports go, chosen by the app with ``install(report_to=...)``:

- :class:`Sentry` - a Sentry-compatible service by DSN (sentry.io,
  self-hosted Sentry, GlitchTip); a string with a key (``https://key@host/1``)
  means this;
- :class:`IssueTracker` - a prefilled GitHub/GitLab "new issue" page opened
  in the browser, the full report on the clipboard; a repository URL
  (``https://github.com/owner/app``) means this;
- any callable ``on_report(report)`` - the app's own endpoint or mailbox.

Example::

    pyqtguard.install(dialogs=True, report_to=[
        "https://0123abcd@o1.ingest.sentry.io/42",
        IssueTracker("https://github.com/me/photo-editor"),
    ])

``send()`` runs on the sender's worker thread and raises OSError when the
report could not be delivered (it is then kept and retried at a later start);
:class:`IssueTracker` opens a page instead, in the GUI thread.
"""
from __future__ import annotations

from . import sentry
from .report import Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

URL_LIMIT = 8000             # GitHub answers 414 a little above 8 KB


class Destination:
    """Base of the destinations: ``key`` (names it in the unsent-reports
    folder), ``label`` (the button's text), ``keeps_unsent`` (retry later)."""

    key = "destination"
    label = "Send report"
    keeps_unsent = True
    in_gui_thread = False

    def send(self, report: Report, timeout: float) -> None:
        raise NotImplementedError


class Sentry(Destination):
    """A Sentry-compatible service by DSN.

    Events are sent with the standard library; when the app has initialised
    ``sentry-sdk`` they are handed to it instead (its transport, its
    ``before_send``, its release and environment).

    Example::

        Sentry("https://0123abcd@o1.ingest.sentry.io/42", environment="beta")
    """

    label = "Send report"

    def __init__(self, dsn: str, *, environment: str | None = None) -> None:
        self.dsn = sentry.parse_dsn(dsn)
        if environment is not None and not isinstance(environment, str):
            raise TypeError(f"environment must be a str or None, not {type(environment).__name__}")
        self.environment = environment
        self.key = f"sentry:{self.dsn.envelope_url}"

    def send(self, report: Report, timeout: float) -> None:
        event = sentry.event_from_report(report, environment=self.environment)
        sdk = sentry.active_sdk()
        if sdk is not None:
            sentry.take_over_sdk_hooks()
            sentry.capture_with_sdk(sdk, event)
            return
        sentry.post_envelope(sentry.envelope(event, self.dsn), self.dsn, timeout)

    def __repr__(self) -> str:
        return f"Sentry({self.dsn.envelope_url!r})"


class IssueTracker(Destination):
    """A "new issue" page of a GitHub or GitLab project, prefilled with the
    report's title and text (cut to fit in a URL); the whole report is put on
    the clipboard to paste.

    Example::

        IssueTracker("https://gitlab.com/me/photo-editor", labels=["crash"])
    """

    label = "Report issue..."
    keeps_unsent = False
    in_gui_thread = True

    def __init__(self, url: str, *, kind: str | None = None,
                 labels: list[str] | tuple[str, ...] = ()) -> None:
        from urllib.parse import urlsplit

        if not isinstance(url, str):
            raise TypeError(f"url must be a str, not {type(url).__name__}")
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or \
                parts.path.strip("/").count("/") < 1:
            raise ValueError(f"{url!r} is not a project URL (https://host/owner/project)")
        if kind is None:
            kind = "gitlab" if "gitlab" in parts.netloc else "github"
        if kind not in ("github", "gitlab"):
            raise ValueError(f"kind must be 'github' or 'gitlab', not {kind!r}")
        self.url = url.strip().rstrip("/")
        self.kind = kind
        self.labels = tuple(labels)
        self.key = f"issues:{self.url}"

    def new_issue_url(self, report: Report, limit: int = URL_LIMIT) -> str:
        """The prefilled page's URL, at most *limit* characters."""
        from urllib.parse import quote

        note = ("\n\n(The report was cut to fit in a link: the whole report is on "
                "the clipboard - paste it here.)")
        body = "```\n" + report.text + "\n```"
        if self.kind == "github":
            base, title_key, body_key = f"{self.url}/issues/new?", "title", "body"
            extra = f"&labels={quote(','.join(self.labels))}" if self.labels else ""
        else:
            base, title_key, body_key = (f"{self.url}/-/issues/new?", "issue[title]",
                                         "issue[description]")
            extra = (f"&{quote('issue[label_names][]')}=" +
                     f"&{quote('issue[label_names][]')}=".join(quote(x) for x in self.labels)
                     if self.labels else "")
        head = f"{base}{quote(title_key)}={quote(report.title[:200])}{extra}&{quote(body_key)}="
        url = head + quote(body)
        if len(url) <= limit:
            return url
        low, high = 0, len(report.text)       # the longest text that fits
        while low < high:
            middle = (low + high + 1) // 2
            if len(head + quote("```\n" + report.text[:middle] + "\n[...]\n```" + note)) <= limit:
                low = middle
            else:
                high = middle - 1
        return head + quote("```\n" + report.text[:low] + "\n[...]\n```" + note)

    def send(self, report: Report, timeout: float) -> None:
        """Put the report on the clipboard and open the page (GUI thread)."""
        from PyQt6.QtCore import QUrl
        from PyQt6.QtGui import QDesktopServices, QGuiApplication

        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(report.text)
        if not QDesktopServices.openUrl(QUrl(self.new_issue_url(report))):
            raise OSError("no browser could open the issue page")

    def __repr__(self) -> str:
        return f"IssueTracker({self.url!r})"


class Callback(Destination):
    """An app's function ``on_report(report)``; an exception it raises means
    "not delivered" (the report is kept and retried at a later start)."""

    label = "Send report"

    def __init__(self, function: Callable[[Report], object]) -> None:
        if not callable(function):
            raise TypeError(f"on_report must be callable, not {type(function).__name__}")
        self.function = function
        name = getattr(function, "__qualname__", type(function).__qualname__)
        self.key = f"callable:{getattr(function, '__module__', '')}.{name}"

    def send(self, report: Report, timeout: float) -> None:
        try:
            self.function(report)
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - the app's function
            raise OSError(f"{self.key} raised {exc!r}") from exc

    def __repr__(self) -> str:
        return f"Callback({self.function!r})"


def coerce(item: object) -> Destination:
    """One ``report_to`` item as a :class:`Destination` (TypeError/ValueError
    for what cannot be one)."""
    if isinstance(item, Destination):
        return item
    if isinstance(item, str):
        from urllib.parse import urlsplit

        if urlsplit(item.strip()).username:
            return Sentry(item)
        return IssueTracker(item)
    if callable(item):
        return Callback(item)  # type: ignore[arg-type]
    raise TypeError(f"report_to items must be a DSN or project URL, a Destination or a "
                    f"callable, not {type(item).__name__}")


def coerce_all(option: object) -> tuple[Destination, ...]:
    """``report_to`` (None, one item, or a list/tuple of items) as destinations."""
    if option is None:
        return ()
    items = option if isinstance(option, (list, tuple)) else [option]
    return tuple(coerce(item) for item in items)
