"""``pyqtguard check``: find code that runs again in spawn/forkserver children.

A process started with the spawn method (Windows, macOS, frozen apps) or
forkserver (Linux's default from Python 3.14) re-imports the main module.
Everything it does at import time runs again in the child: a second
QApplication, windows, timers, threads, and pools that start pools.

    >>> from pyqtguard.check import check_paths
    >>> result = check_paths(["app.py", "src/"])
    >>> for finding in result.findings:
    ...     print(finding)              # app.py:5:7: PQG001 QApplication built ...

Only scripts that use Qt or multiprocessing are checked.  A module imported
by a script is followed when it belongs to the project (found beside the
script or in its package), not when it is third-party.
"""
from __future__ import annotations

import ast
import os
import re

from ._analyzer import MP_ROOTS, QT_ROOTS, ImportTimeVisitor, first_statement_calls
from ._rules import RULES, Finding

__all__ = ["RULES", "CheckResult", "Finding", "check_file", "check_paths"]

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z0-9, ]+))?", re.IGNORECASE)
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".tox", ".nox", ".venv", "venv",
              "env", "site-packages", "node_modules", "build", "dist", ".eggs"}
_IMPORT_TIME_CODES = {"PQG001", "PQG005"}   # what makes an imported module a problem


class CheckResult:
    """Findings (sorted), notes (skipped files) and paths that do not exist."""

    __slots__ = ("findings", "notes", "missing")

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        self.missing: list[str] = []


class _Source:
    __slots__ = ("path", "text", "tree", "error")

    def __init__(self, path: str) -> None:
        self.path = path
        self.text: str | None = None
        self.tree: ast.Module | None = None
        self.error: str | None = None
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except OSError as exc:
            self.error = f"cannot read: {exc.strerror}"
            return
        if b"\0" in data:
            self.error = "binary file, skipped"
            return
        try:
            self.text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.error = "not UTF-8, skipped"


class _Checker:
    def __init__(self) -> None:
        self.sources: dict[str, _Source] = {}
        self.import_time: dict[str, list[Finding]] = {}

    def source(self, path: str) -> _Source:
        path = os.path.abspath(path)
        if path not in self.sources:
            self.sources[path] = _Source(path)
        return self.sources[path]

    # ---- one script ----

    def check(self, path: str, display: str) -> tuple[list[Finding], str | None]:
        source = self.source(path)
        if source.text is None:
            return [], source.error
        try:
            tree = ast.parse(source.text, filename=display)
        except SyntaxError as exc:
            return [Finding(display, exc.lineno or 1, exc.offset or 1, "PQG009",
                            f"syntax error: {exc.msg}")], None
        visitor = ImportTimeVisitor(display, tree)
        info = visitor.info
        if not (info.uses(QT_ROOTS) or info.uses(MP_ROOTS)):
            return [], None
        findings = list(visitor.findings)
        if _is_package_main(path):
            # multiprocessing does not re-run a package's __main__ in its
            # children (spawn._fixup_main_from_name skips "*.__main__"):
            # only what the children import matters there.
            findings = []
        findings += self._imported_modules(path, display, info.imports)
        if info.uses(("multiprocessing",)) or any(
                q.endswith("ProcessPoolExecutor") for q in info.aliases.values()):
            for guard in visitor.guards:
                if not first_statement_calls(guard, "freeze_support"):
                    findings.append(Finding(
                        display, guard.lineno, guard.col_offset + 1, "PQG008",
                        "multiprocessing is used: call multiprocessing.freeze_support() "
                        "first under the main guard (frozen apps need it)"))
        return _without_noqa(findings, source.text), None

    # ---- project imports ----

    def _imported_modules(self, path: str, display: str,
                          imports: list[tuple[ast.AST, str, int]]) -> list[Finding]:
        findings = []
        for node, module, level in imports:
            target = _resolve(path, module, level)
            if target is None:
                continue
            problems = self._import_time_problems(target, set())
            if problems:
                first = problems[0]
                what = ("builds a QApplication" if first.code == "PQG001"
                        else "starts processes")
                findings.append(Finding(
                    display, node.lineno, node.col_offset + 1, "PQG007",
                    f"imported module {module!r} {what} at import time "
                    f"({os.path.relpath(first.path)}:{first.line}): a child that imports "
                    f"it runs that again; move that code under its own main guard or "
                    f"into a function"))
        return findings

    def _import_time_problems(self, path: str, seen: set[str]) -> list[Finding]:
        if path in self.import_time:
            return self.import_time[path]
        if path in seen:
            return []
        seen.add(path)
        self.import_time[path] = []
        source = self.source(path)
        problems: list[Finding] = []
        if source.text is not None:
            try:
                tree = ast.parse(source.text)
            except SyntaxError:
                tree = None
            if tree is not None:
                visitor = ImportTimeVisitor(path, tree)
                problems = [f for f in _without_noqa(visitor.findings, source.text)
                            if f.code in _IMPORT_TIME_CODES]
                if not problems:
                    for node, module, level in visitor.info.imports:
                        if node.col_offset != 0:      # only module-level imports
                            continue
                        target = _resolve(path, module, level)
                        if target is not None:
                            problems = self._import_time_problems(target, seen)
                            if problems:
                                break
        self.import_time[path] = problems
        return problems


def _is_package_main(path: str) -> bool:
    return (os.path.basename(path) == "__main__.py"
            and os.path.isfile(os.path.join(os.path.dirname(path), "__init__.py")))


def _resolve(importer: str, module: str, level: int) -> str | None:
    """The project file *module* names, or None (third-party, stdlib, absent)."""
    folder = os.path.dirname(os.path.abspath(importer))
    if level:
        for _ in range(level - 1):
            folder = os.path.dirname(folder)
        bases = [folder]
    else:
        bases = [folder]
        package_root = folder
        while os.path.isfile(os.path.join(package_root, "__init__.py")):
            package_root = os.path.dirname(package_root)
        if package_root != folder:
            bases.append(package_root)
    parts = [p for p in module.split(".") if p]
    for base in bases:
        for count in (len(parts), len(parts) - 1):   # "from a import b": b may be a name
            if count <= 0:
                continue
            candidate = os.path.join(base, *parts[:count])
            for path in (candidate + ".py", os.path.join(candidate, "__init__.py")):
                if os.path.isfile(path) and os.path.abspath(path) != os.path.abspath(importer):
                    return os.path.abspath(path)
    return None


def _without_noqa(findings: list[Finding], text: str) -> list[Finding]:
    lines = text.splitlines()
    kept = []
    for finding in findings:
        line = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
        match = _NOQA.search(line)
        if match:
            codes = match.group("codes")
            if not codes or finding.code in {c.strip().upper() for c in codes.split(",")}:
                continue
        kept.append(finding)
    return kept


def _python_files(folder: str) -> list[str]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".py")]
    return files


def check_file(path: str) -> list[Finding]:
    """Findings for one script (project imports followed)."""
    findings, _note = _Checker().check(path, path)
    return findings


def check_paths(paths: list[str]) -> CheckResult:
    """Check files and folders (their ``*.py`` files, recursively)."""
    result = CheckResult()
    checker = _Checker()
    for path in paths:
        if os.path.isdir(path):
            files = _python_files(path)
        elif os.path.isfile(path):
            files = [path]
        else:
            result.missing.append(path)
            continue
        for file in files:
            findings, note = checker.check(file, file)
            if note:
                result.notes.append(f"{file}: {note}")
            result.findings += findings
    result.findings.sort(key=lambda f: (f.path, f.line, f.col, f.code))
    return result
