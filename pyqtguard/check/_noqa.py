"""``# noqa`` comments, located by the tokenizer's line numbers.

The line numbers of findings are the tokenizer's (they come from the AST),
so the comments are found by the tokenizer too: ``str.splitlines()`` also
splits at a form feed, U+2028, U+2029, U+0085 and ``\\x1c``-``\\x1e``, which
Python does not take for line ends, and would move a ``# noqa`` onto another
line.  Only real comments count: ``"# noqa"`` in a string does not.

    >>> silenced_codes("x = 1  # noqa: PQG001, PQG002\\n")
    {1: frozenset({'PQG001', 'PQG002'})}
    >>> silenced_codes("app.exec()  # noqa\\n")
    {1: None}
"""
from __future__ import annotations

import io
import re
import tokenize

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z0-9, ]+))?", re.IGNORECASE)


def silenced_codes(text: str) -> dict[int, frozenset[str] | None]:
    """Line -> the codes its ``# noqa`` silences (None: every code)."""
    lines: dict[int, frozenset[str] | None] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type != tokenize.COMMENT:
                continue
            match = _NOQA.search(token.string)
            if match is None:
                continue
            codes = match.group("codes")
            lines[token.start[0]] = (frozenset(c.strip().upper() for c in codes.split(",")
                                               if c.strip()) if codes else None)
    except (tokenize.TokenError, SyntaxError, ValueError, RecursionError, MemoryError):
        pass            # the comments before the trouble still count
    return lines


def is_silenced(line: int, code: str, silenced: dict[int, frozenset[str] | None]) -> bool:
    """Whether a ``# noqa`` on *line* silences *code*."""
    if line not in silenced:
        return False
    codes = silenced[line]
    return codes is None or code in codes
