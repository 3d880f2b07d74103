"""``--pyqtguard-check``: ``pyqtguard check`` over the collected test files and
the project's packages, reported as one test item that fails with the
findings (see :mod:`pyqtguard.check`).

The project's packages are the folders at the root directory (or under its
``src/``) that hold an ``__init__.py``.
"""
from __future__ import annotations

import os

import pytest

ITEM_NAME = "pyqtguard-check"


def project_paths(rootdir: str, test_files: list[str]) -> list[str]:
    """The test files, and the packages found at *rootdir* and *rootdir*/src."""
    paths = sorted(set(test_files))
    for base in (rootdir, os.path.join(rootdir, "src")):
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            folder = os.path.join(base, name)
            if (not name.startswith(".") and os.path.isfile(os.path.join(folder, "__init__.py"))
                    and folder not in paths):
                paths.append(folder)
    return paths


class CheckError(Exception):
    """The checker's findings, as the item's failure."""


class CheckItem(pytest.Item):
    """One item that runs the checker over :attr:`paths`."""

    def __init__(self, *, paths: list[str], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.paths = paths
        self.add_marker(pytest.mark.pyqtguard(allow_threads=True, allow_widgets=True))

    def runtest(self) -> None:
        from ..check import check_paths

        result = check_paths(self.paths)
        lines = [str(finding) for finding in result.findings]
        lines += [f"note: {note}" for note in result.notes]
        if result.findings:
            raise CheckError("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: object = None) -> str:
        if isinstance(excinfo.value, CheckError):
            return ("pyqtguard check: code that re-runs in spawn/forkserver children "
                    "(docs/checker.md):\n" + str(excinfo.value))
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int, str]:
        return self.name, 0, "pyqtguard check"


def add_check_item(session: pytest.Session, items: list[pytest.Item]) -> None:
    """Put the check item first in *items*."""
    test_files = sorted({os.fspath(item.path) for item in items
                         if os.fspath(item.path).endswith(".py")})
    paths = project_paths(os.fspath(session.config.rootpath), test_files)
    items.insert(0, CheckItem.from_parent(session, name=ITEM_NAME, paths=paths))
