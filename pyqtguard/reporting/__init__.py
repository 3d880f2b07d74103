"""Reports that reach the developer, with the user's consent (issue 22).

The component of :func:`pyqtguard.install` that keeps the options
``report_to`` (destinations), ``auto_send``, ``scrub`` and ``app_version``,
retries the reports an earlier run could not send, and, when the app opted
in with ``auto_send=True``, sends exceptions and the previous run's crash
without asking (asking its users is then the app's responsibility).

Parts: :mod:`.scrub` (masking), :mod:`.report` (the report text),
:mod:`.textparse` and :mod:`.sentry` (events from the text),
:mod:`.destinations`, :mod:`.sender` (worker thread), :mod:`.unsent`
(kept reports), :mod:`.offered` (crashes offered once), :mod:`.breadcrumbs`.

Example::

    pyqtguard.install(dialogs=True, app_version="2.1.0",
                      report_to="https://0123abcd@o1.ingest.sentry.io/42")
"""
from __future__ import annotations

import os

from ..logs import folder as logdir
from .. import logs as runlog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..config import Config
    from ..crashes.reports import CrashReport
    from ..exceptions.delivery import ExceptionRecord
    from .destinations import Destination
    from .report import Report


class Settings:
    """What the installed Config says about reports."""

    __slots__ = ("destinations", "auto_send", "scrub", "app_version", "log_folder")

    def __init__(self, destinations: tuple[Destination, ...], auto_send: bool,
                 scrub: Callable[[str], str] | None, app_version: str | None,
                 log_folder: str) -> None:
        self.destinations = destinations
        self.auto_send = auto_send
        self.scrub = scrub
        self.app_version = app_version
        self.log_folder = log_folder


_settings: Settings | None = None
# auto_send sends at most this many exception reports per run: a flood of
# distinct exceptions must not become a flood of requests.
AUTO_SEND_LIMIT = 20
_auto_callback: Callable[[ExceptionRecord], None] | None = None


def _log_folder(config: Config) -> str:
    path = runlog.run_log_path()
    if path is not None:
        return os.path.dirname(path)
    return logdir.folder_for(config.log_dir, config.app_name)


def install(config: Config) -> None:
    """Keep the options; retry unsent reports; with ``auto_send``, send."""
    global _settings
    _settings = Settings(tuple(config.report_to), config.auto_send,  # type: ignore[arg-type]
                         config.scrub, config.app_version, _log_folder(config))  # type: ignore[arg-type]
    if not (_settings.destinations or config.dialogs):
        return
    from . import breadcrumbs

    breadcrumbs.install()
    if any(d.key.startswith("sentry:") for d in _settings.destinations):
        from .. import qt as qt_attach

        qt_attach.when_imported("sentry_sdk", _take_over_sdk_hooks)   # now or when imported
    if _settings.destinations:
        retry_unsent()
    if _settings.auto_send and background_destinations():
        _install_auto_send()         # (an issue tracker needs the user's browser)


def uninstall() -> None:
    global _settings, _auto_callback
    if _auto_callback is not None:
        from ..exceptions import delivery

        delivery.remove_exception_callback(_auto_callback)
        _auto_callback = None
    if _settings is not None:
        from . import breadcrumbs

        breadcrumbs.uninstall()
    _settings = None


def _take_over_sdk_hooks(module: object) -> None:
    """sentry-sdk imported by an app that reports to Sentry through
    pyqtguard: its own exception hooks' events are dropped (pyqtguard reports
    those exceptions, with consent)."""
    if _settings is None:
        return                  # uninstalled since
    from . import sentry

    sentry.take_over_sdk_hooks()


def settings() -> Settings:
    """The settings in force (defaults when pyqtguard is not installed)."""
    if _settings is not None:
        return _settings
    from .. import config

    current = config.installed_config() or config.make_config()
    return Settings(tuple(current.report_to), current.auto_send,  # type: ignore[arg-type]
                    current.scrub, current.app_version, _log_folder(current))  # type: ignore[arg-type]


def scrubber() -> Callable[[str], str]:
    current = settings()
    if current.scrub is None:
        from .scrub import Scrubber

        current.scrub = Scrubber()
    return current.scrub


def report_for_exception(record: ExceptionRecord) -> Report:
    """The scrubbed report of an uncaught exception."""
    from . import report

    return report.from_exception(record, scrubber(), settings().app_version)


def report_for_crash(crash: CrashReport) -> Report:
    """The scrubbed report of an earlier run's crash."""
    from . import report

    return report.from_crash(crash, scrubber(), settings().app_version)


def background_destinations(destinations: tuple[Destination, ...] | None = None,
                            ) -> tuple[Destination, ...]:
    """Destinations sent to from the worker thread (all but issue trackers)."""
    chosen = settings().destinations if destinations is None else destinations
    return tuple(d for d in chosen if not d.in_gui_thread)


def send(report: Report, on_done: Callable[[bool, str], object] | None = None, *,
         automatic: bool = False) -> int:
    """Send *report* (as it is: the user's edits included) to every
    background destination, on the worker thread; returns how many.
    *automatic*: sent by ``auto_send``, without a click."""
    from . import sender

    chosen = background_destinations()
    folder = settings().log_folder
    for destination in chosen:
        sender.submit(destination, report, folder, on_done=on_done, automatic=automatic)
    return len(chosen)


def retry_unsent() -> int:
    """Queue the reports earlier runs kept for the destinations configured
    now (those ``auto_send`` kept only while it is on: the user may have
    withdrawn consent since); returns how many.  Cheap when there are none
    (one ``listdir``)."""
    from . import sender, unsent

    current = settings()
    folder = unsent.unsent_folder(current.log_folder)
    try:
        if not os.listdir(folder):
            return 0
    except OSError:
        return 0
    by_key = {d.key: d for d in current.destinations if d.keeps_unsent}
    count = 0
    for item in unsent.pending(current.log_folder):
        destination = by_key.get(item.destination)
        if destination is not None and (current.auto_send or not item.automatic):
            sender.submit(destination, item.report, current.log_folder, pending=item)
            count += 1
    return count


def _install_auto_send() -> None:
    global _auto_callback
    from ..exceptions import delivery

    sent = [0]

    def auto_send(record: ExceptionRecord) -> None:
        if sent[0] >= AUTO_SEND_LIMIT:
            return
        sent[0] += 1
        if sent[0] == AUTO_SEND_LIMIT:
            runlog.log_event(f"pyqtguard: {AUTO_SEND_LIMIT} reports sent automatically in "
                             "this run; no more will be (auto_send's limit per run)")
        send(report_for_exception(record), automatic=True)

    _auto_callback = auto_send
    delivery.on_exception(auto_send)
    send_last_crash_once()


def send_last_crash_once() -> bool:
    """Send the previous run's crash unless it was offered or sent before
    (``auto_send``); True if it was queued."""
    from ..crashes.reports import last_crash
    from . import offered

    crash = last_crash()
    if crash is None:
        return False
    report = report_for_crash(crash)
    folder = settings().log_folder
    if offered.was_offered(folder, report.key) or not offered.mark_offered(folder, report.key):
        return False
    return send(report, automatic=True) > 0
