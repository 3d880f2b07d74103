"""The ``Example::`` blocks of the public API's docstrings, as ``help()`` shows
them, are Python that compiles: a reader copies them from there."""
from __future__ import annotations

import inspect
import textwrap

import pyqtguard


def example_blocks(doc: str) -> list[str]:
    """The literal blocks after each ``Example::`` line (reST: indented)."""
    blocks = []
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if not line.rstrip().endswith("Example::"):
            continue
        block = []
        for following in lines[i + 1:]:
            if following.strip() and not following[:1].isspace():
                break
            block.append(following)
        blocks.append(textwrap.dedent("\n".join(block)).strip("\n"))
    return blocks


def test_public_docstring_examples_compile() -> None:
    checked = 0
    for name in sorted(set(pyqtguard.__all__)):
        doc = inspect.getdoc(getattr(pyqtguard, name)) or ""
        for block in example_blocks(doc):
            if block.lstrip().startswith(">>>"):
                continue                     # a doctest: its own syntax
            compile(block, f"<{name} docstring example>", "exec")
            checked += 1
    assert checked >= 10
