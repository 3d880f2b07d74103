"""Taking what identifies the user out of a report's text, before anyone sees
it and before anything leaves the machine.

The default :class:`Scrubber` replaces the home folder with ``~``, the user
name with ``<user>``, the host name with ``<host>``, e-mail addresses with
``<email>`` and strings that look like secrets (``password=...``, bearer
tokens, URL credentials, GitHub/Slack/AWS/JWT tokens, long random keys)
with ``<secret>``.  Apps add patterns or a function of their own::

    scrub = Scrubber(extra_patterns=[(r"customer-\\d+", "<customer>")],
                     custom=lambda text: text.replace("ACME", "<company>"))
    pyqtguard.install(dialogs=True, scrub=scrub)

A scrubber never raises: a custom function that fails is skipped (once
warned about) and the defaults' result is used.
"""
from __future__ import annotations

import os
import re
import socket

from ..logs import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

# (pattern, replacement), applied in order after home, user and host.
# Replacements may use the pattern's groups (a key's name is kept).  Every
# repetition that can fail far from where it started is bounded: a report is
# up to 200 KB of text nobody chose ("a.a.a.a..."), and an unbounded one made
# the e-mail pattern take 44 s on such a line.
DEFAULT_PATTERNS: tuple[tuple[str, str], ...] = (
    # Private keys (PEM): the body up to the END line, or as far as it goes
    # (a log line cut in the middle of one).
    (r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s]{0,16000}"
     r"(?:-----END[A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?", "<secret>"),
    # Credentials in URLs: scheme://user:password@host
    (r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://)[^\s/@:]{1,256}:[^\s/@]{1,256}@",
     r"\g<scheme><secret>@"),
    (r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b",
     "<email>"),
    # ... with "@" percent-encoded (mailto%3Aalice%40example.org in a URL); a
    # pattern of its own: "(?:@|%40)" above made it 3 times slower
    (r"(?<!%)(?<!%[0-9A-Fa-f])(?:\b|(?<=%[0-9A-Fa-f]{2}))[A-Za-z0-9._+-]{1,64}%40"
     r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b", "<email>"),
    # key=value / key: value where the key says it is secret (db_password=...:
    # the match starts at the telling word; a prefix stays as it is).  The
    # "=" may be percent-encoded (%3D) and the quotes JSON-escaped (\"); a
    # quoted value is masked up to its closing quote, spaces included.
    (r"(?i)(?P<key>(?:passw(?:or)?d|pass(?:phrase|code)|pwd|secret|token|api[_-]?key"
     r"|access[_-]?key|private[_-]?key|auth(?:orization)?|credentials?|session[_-]?id|cookie)"
     r"[\w.-]{0,40}(?:\\{0,2}['\"])?\s{0,8}(?:[=:]|%3[ad])\s{0,8})"
     r"(?P<q>\\{0,2}['\"])?(?!<secret>)(?:(?:bearer|basic|token)\s+)?"
     r"(?(q)(?:[^'\"\r\n\\]|\\(?!['\"])){1,512}|[^\s'\",;&]+)",
     r"\g<key>\g<q><secret>"),
    (r"(?i)\b(?P<kind>bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}", r"\g<kind> <secret>"),
    (r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}", "<secret>"),   # JWT
    (r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}"
     r"|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,})", "<secret>"),
    # Long random-looking keys: 32+ letters and digits, both present.
    (r"\b(?=[A-Za-z0-9_-]{0,256}\d)(?=[A-Za-z0-9_-]{0,256}[A-Za-z])[A-Za-z0-9_-]{32,}\b",
     "<secret>"),
)

# User and host names this generic identify nobody; masking them would only
# garble the text ("root logger").
_GENERIC_NAMES = frozenset({"root", "user", "admin", "administrator", "localhost", "runner"})
_MIN_NAME = 3


def _user_name() -> str:
    for variable in ("USER", "USERNAME", "LOGNAME"):
        value = os.environ.get(variable, "")
        if value:
            return value
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database entry
        return ""


def _host_names() -> list[str]:
    try:
        full = socket.gethostname()
    except OSError:
        return []
    return [n for n in {full, full.split(".")[0]} if n]


def _word(name: str, *, dashes: bool = False) -> re.Pattern[str]:
    """*name* as a whole word, in any letter case (Windows names and host
    names are case-insensitive), after a percent-escape too (%2Falice in a
    URL).  With *dashes*, next to "-" too (/tmp/alice-cache, backup-alice:
    a user name; a host name next to "-" is another host)."""
    before, after = (r"(?<![\w.])", r"(?!\w)") if dashes else (r"(?<![\w.-])", r"(?![\w-])")
    return re.compile(f"(?:{before}|(?<=%[0-9A-Fa-f]{{2}}))" + re.escape(name) + after,
                      re.IGNORECASE)


class Scrubber:
    """A callable ``str -> str`` that masks what identifies the user.

    Args:
        patterns: ``(regex, replacement)`` pairs replacing
            :data:`DEFAULT_PATTERNS` (``None``: the defaults).
        extra_patterns: pairs applied after *patterns*.
        custom: the app's own ``str -> str`` function, applied last.
        home, user, host: mask the home folder, the user name, the host name.

    Example::

        >>> Scrubber(home=False, user=False, host=False)("mail bob@example.org")
        'mail <email>'
    """

    def __init__(self, *, patterns: Iterable[tuple[str, str]] | None = None,
                 extra_patterns: Iterable[tuple[str, str]] = (),
                 custom: Callable[[str], str] | None = None,
                 home: bool = True, user: bool = True, host: bool = True) -> None:
        if custom is not None and not callable(custom):
            raise TypeError(f"custom must be callable, not {type(custom).__name__}")
        chosen = list(DEFAULT_PATTERNS if patterns is None else patterns) + list(extra_patterns)
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for pair in chosen:
            if not (isinstance(pair, tuple) and len(pair) == 2
                    and all(isinstance(p, str) for p in pair)):
                raise TypeError(f"a pattern must be a (regex, replacement) pair of str, "
                                f"not {pair!r}")
            try:
                self._patterns.append((re.compile(pair[0]), pair[1]))
            except re.error as exc:
                raise ValueError(f"bad pattern {pair[0]!r}: {exc}") from None
        self.custom = custom
        self._literals: list[tuple[re.Pattern[str], str]] = []
        if home:
            self._add_home()
        if user:
            name = _user_name()
            if len(name) >= _MIN_NAME and name.lower() not in _GENERIC_NAMES:
                self._literals.append((_word(name, dashes=True), "<user>"))
        if host:
            for name in sorted(_host_names(), key=len, reverse=True):
                if len(name) >= _MIN_NAME and name.lower() not in _GENERIC_NAMES:
                    self._literals.append((_word(name), "<host>"))

    def _add_home(self) -> None:
        homes = {os.path.expanduser("~")}
        try:
            homes.add(os.path.realpath(os.path.expanduser("~")))
        except OSError:
            pass
        for home in sorted(homes, key=len, reverse=True):
            home = home.rstrip("/\\")
            if len(home) > 1:          # "/" as home: nothing to mask
                self._literals.append((re.compile(re.escape(home) + r"(?=[/\\]|\b|$)",
                                                  re.IGNORECASE), "~"))

    def __call__(self, text: str) -> str:
        """*text* with the user's traces masked; never raises."""
        # Patterns first: "alice@example.org" is an e-mail address before
        # "alice" is a user name.
        for compiled, replacement in self._patterns:
            text = compiled.sub(replacement, text)
        for pattern, replacement in self._literals:
            text = pattern.sub(replacement, text)
        if self.custom is not None:
            try:
                result = self.custom(text)
            except Exception as exc:  # noqa: BLE001 - the app's function: never raise
                warn_once("scrub:custom", f"the app's scrub function raised {exc!r}; "
                          "its step is skipped")
                return text
            if isinstance(result, str):
                return result
            warn_once("scrub:custom", "the app's scrub function returned "
                      f"{type(result).__name__}, not str; its step is skipped")
        return text


def make_scrubber(option: object) -> Scrubber:
    """The scrubber for :func:`pyqtguard.install`'s ``scrub`` option: None
    (the defaults), a :class:`Scrubber`, or a function applied after the
    defaults.  Raises TypeError for anything else."""
    if option is None:
        return Scrubber()
    if isinstance(option, Scrubber):
        return option
    if callable(option):
        return Scrubber(custom=option)  # type: ignore[arg-type]
    raise TypeError(f"scrub must be a Scrubber, a function or None, not {type(option).__name__}")
