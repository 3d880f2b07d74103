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

Hostile trees are expected: only regular files under a size cap are read
(``max_bytes``), a file that cannot be read, decoded or parsed is one note or
one PQG009 finding and the run goes on, and every walk - of a module's code,
of its calls, of a chain of imports - uses a stack of its own, never the
interpreter's.
"""
from __future__ import annotations

import ast
import os
import warnings

from ._analyzer import MP_ROOTS, QT_ROOTS, ImportTimeVisitor, first_statement_calls
from ._noqa import is_silenced, silenced_codes
from ._reading import DEFAULT_MAX_BYTES, Unreadable, read_source
from ._rules import RULES, Finding

__all__ = ["DEFAULT_MAX_BYTES", "RULES", "CheckResult", "Finding", "check_file",
           "check_paths"]
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".tox", ".nox", ".venv", "venv",
              "env", "site-packages", "node_modules", "build", "dist", ".eggs"}
_IMPORT_TIME_CODES = {"PQG001", "PQG005"}   # what makes an imported module a problem


class CheckResult:
    """Findings (sorted), notes (files not analysed), paths that do not exist,
    and how many files were looked at."""

    __slots__ = ("findings", "notes", "missing", "files")

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        self.missing: list[str] = []
        self.files = 0


class _Source:
    """One file's text, or why there is none (a note)."""

    __slots__ = ("path", "text", "error")

    def __init__(self, path: str, max_bytes: int) -> None:
        self.path = path
        self.text: str | None = None
        self.error: str | None = None
        try:
            self.text = read_source(path, max_bytes)
        except Unreadable as exc:
            self.error = str(exc)


def _parse(text: str, display: str) -> tuple[ast.Module | None, Finding | None]:
    """The module's tree, or the PQG009 finding saying why there is none.

    Python's parser has limits of its own - nesting, stack, memory - and
    reports them as RecursionError or MemoryError rather than SyntaxError
    (a 100,000-term expression, 10,000 nested lambdas): Python cannot
    compile such a file either, so it is a PQG009 too.  The parser's warnings
    (``invalid escape sequence``) are not the checker's to print - they would
    copy the file's text to stderr - nor, under ``-W error``, syntax errors.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=display), None
    except SyntaxError as exc:
        return None, Finding(display, exc.lineno or 1, exc.offset or 1, "PQG009",
                             f"syntax error: {exc.msg}")
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return None, Finding(display, 1, 1, "PQG009", "cannot be parsed: nested too deeply "
                             f"or too complex for Python's parser ({detail})")


class _Checker:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        self.max_bytes = max_bytes
        self.sources: dict[str, _Source] = {}
        self.import_time: dict[str, list[Finding]] = {}
        self.unanalysed: dict[str, tuple[str, str]] = {}   # imported module -> (importer, why)

    def source(self, path: str) -> _Source:
        path = os.path.abspath(path)
        if path not in self.sources:
            self.sources[path] = _Source(path, self.max_bytes)
        return self.sources[path]

    # ---- one script ----

    def check(self, path: str, display: str) -> tuple[list[Finding], str | None]:
        source = self.source(path)
        if source.text is None:
            return [], source.error
        tree, failure = _parse(source.text, display)
        if tree is None:
            return [failure] if failure else [], None
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
            problems = self._import_time_problems(target, path)
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

    def _import_time_problems(self, root: str, importer: str) -> list[Finding]:
        """What *root*, or the first project module it imports (at module level,
        recursively), builds or starts at import time.

        A chain of 1,000 imports is followed with a stack of frames, not by
        recursion; a module already on the stack (a cycle) adds nothing.
        """
        if root in self.import_time:
            return self.import_time[root]
        stack = [self._import_frame(root, importer)]
        on_stack = {root}
        while stack:
            frame = stack[-1]
            if not frame.problems and frame.targets:
                target = frame.targets.pop()
                if target in self.import_time:
                    frame.problems = self.import_time[target]
                elif target not in on_stack:
                    on_stack.add(target)
                    stack.append(self._import_frame(target, frame.path))
                continue
            stack.pop()
            on_stack.discard(frame.path)
            self.import_time[frame.path] = frame.problems
            if stack and frame.problems:
                stack[-1].problems = frame.problems
        return self.import_time[root]

    def _import_frame(self, path: str, importer: str) -> _ImportFrame:
        frame = _ImportFrame(path)
        source = self.source(path)
        if source.text is None:
            self.unanalysed.setdefault(path, (importer, source.error or "not read"))
            return frame
        tree, failure = _parse(source.text, path)
        if tree is None:
            self.unanalysed.setdefault(path, (importer, failure.message if failure
                                                  else "does not parse"))
            return frame
        visitor = ImportTimeVisitor(path, tree, main=False)
        frame.problems = [f for f in _without_noqa(visitor.findings, source.text)
                          if f.code in _IMPORT_TIME_CODES]
        for node, module, level in reversed(visitor.info.imports):   # popped in order
            if node.col_offset == 0:                 # only module-level imports
                target = _resolve(path, module, level)
                if target is not None:
                    frame.targets.append(target)
        return frame


class _ImportFrame:
    """One module on the import walk's stack: its problems, and the project
    modules it imports that are still to be looked at (last is next)."""

    __slots__ = ("path", "problems", "targets")

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Finding] = []
        self.targets: list[str] = []


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


def _shown(path: str) -> str:
    """*path* relative to the current folder when that is shorter."""
    try:
        relative = os.path.relpath(path)
    except ValueError:                  # another drive (Windows)
        return path
    return relative if len(relative) < len(path) else path


def _without_noqa(findings: list[Finding], text: str) -> list[Finding]:
    if not findings:
        return findings                  # no need to tokenize
    silenced = silenced_codes(text)
    return [f for f in findings if not is_silenced(f.line, f.code, silenced)]


def _python_files(folder: str, notes: list[str]) -> list[str]:
    """``*.py`` names under *folder*, sorted; symlinked folders are not entered
    (no loops), and a folder that cannot be listed is a note."""
    files = []

    def unlisted(error: OSError) -> None:
        notes.append(f"{error.filename}: cannot list: {error.strerror or error}")

    for root, dirs, names in os.walk(folder, onerror=unlisted):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".py")]
    return files


def check_file(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Finding]:
    """Findings for one script (project imports followed)."""
    findings, _note = _Checker(max_bytes).check(path, path)
    return findings


def check_paths(paths: list[str], max_bytes: int = DEFAULT_MAX_BYTES) -> CheckResult:
    """Check files and folders (their ``*.py`` files, recursively).

    Only regular files of at most *max_bytes* bytes are read; any other file
    (a FIFO, a device, a larger file) is a note in ``result.notes``.
    """
    result = CheckResult()
    checker = _Checker(max_bytes)
    checked: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            files = _python_files(path, result.notes)
        elif os.path.exists(path):
            files = [path]              # whatever it is: read_source says if not regular
        else:
            result.missing.append(path)
            continue
        for file in files:
            result.files += 1
            checked.add(os.path.abspath(file))
            findings, note = checker.check(file, file)
            if note:
                result.notes.append(f"{file}: {note}")
            result.findings += findings
    for module, (importer, why) in checker.unanalysed.items():
        if module not in checked:           # else its own note or PQG009 said it
            result.notes.append(f"{_shown(module)}: imported by {_shown(importer)}, "
                                f"not analysed: {why}")
    result.findings.sort(key=lambda f: (f.path, f.line, f.col, f.code))
    return result
