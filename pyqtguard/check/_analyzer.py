"""What one module does at import time: an AST walk.

Import time is the module body (with the decorators, default arguments
and base classes of its functions and classes), minus what only runs under
``if __name__ == "__main__":`` (any spelling: ``'__main__' == __name__``,
``__name__ in ("__main__",)``, ``... and __name__ == "__main__"``), minus the
bodies of functions and methods - unless the module body calls them: a
module-level call to one of the module's functions (or an instantiation of
one of its classes) runs that body at import time too, and is followed.
"""
from __future__ import annotations

import ast
import sys

from ._rules import FIX, Finding

APP_CLASSES = {"QApplication", "QGuiApplication", "QCoreApplication"}
SHOW_METHODS = {"show", "showMaximized", "showMinimized", "showFullScreen", "showNormal"}
EXEC_METHODS = {"exec", "exec_"}
PROCESS_CLASSES = {"Process"}
POOL_CLASSES = {"Pool", "ProcessPoolExecutor"}
THREAD_CLASSES = {"Thread", "Timer"}
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}
QT_ROOTS = ("PyQt6", "PyQt5", "PySide6", "PySide2")
MP_ROOTS = ("multiprocessing", "concurrent.futures")
_STATEMENT, _EXPRESSION, _SET_VIA = range(3)       # kinds of work in the walk's stack


DOTTED_LIMIT = 64
"""Parts of a name kept by :func:`dotted`: a 100,000-long chain is walked once
per call in it, so each walk is bounded (the last parts are the ones kept)."""


def dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain; calls in the chain as ``()``.

    A chain longer than ``DOTTED_LIMIT`` parts keeps its last ones after ``?``:

        >>> dotted(ast.parse("a.b().c", mode="eval").body)
        'a.b().c'
    """
    pieces: list[str] = []
    while True:
        if len(pieces) >= DOTTED_LIMIT:
            pieces.append("?")
            break
        if isinstance(node, ast.Name):
            pieces.append(node.id)
            break
        if isinstance(node, ast.Attribute):
            pieces.append(f".{node.attr}")
            node = node.value
        elif isinstance(node, ast.Call):
            pieces.append("()")
            node = node.func
        else:
            pieces.append("?")
            break
    return "".join(reversed(pieces))


def is_main_test(test: ast.AST, main: bool = True) -> bool | None:
    """True for a main guard, False for its negation, None otherwise.

    ``... and __name__ == "__main__"`` is a main guard, however the ``and``
    terms are nested (walked with a stack, not recursion); ``not`` turns a
    guard into its negation.  *main*: the test is in the script that is run
    (a child re-runs it as ``__mp_main__``: ``__name__ != "__mp_main__"`` is
    a guard there, ``__name__ in ("__main__", "__mp_main__")`` is not); else
    in a module a child imports under its own name.
    """
    negated = False
    while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        negated, test = not negated, test.operand
    if not (isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And)):
        result = _compares_name_to_main(test, main)
    else:
        result = None
        pending: list[ast.AST] = [test]
        while pending:
            node = pending.pop()
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
                pending.extend(node.values)
            elif _compares_name_to_main(node, main) is True:
                result = True
                break
    if negated and result is not None:
        return not result
    return result


def _compares_name_to_main(test: ast.AST, main: bool = True) -> bool | None:
    """Whether the body of ``if <test>:`` runs in the main process and not in
    a child (True), in a child and not in the main process (False), or
    either (None)."""
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return None
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    if not names:
        return None
    other = sides[1] if sides[0] is names[0] else sides[0]
    op = test.ops[0]
    if isinstance(other, ast.Constant) and isinstance(op, (ast.Eq, ast.NotEq)):
        values = {other.value}
        inside = isinstance(op, ast.Eq)
    elif isinstance(other, (ast.Tuple, ast.List, ast.Set)) and isinstance(
            op, (ast.In, ast.NotIn)):
        if not all(isinstance(e, ast.Constant) for e in other.elts):
            return None
        values = {e.value for e in other.elts}  # type: ignore[attr-defined]
        inside = isinstance(op, ast.In)
    else:
        return None
    in_main = ("__main__" in values) == inside
    # In a child, the script's __name__ is "__mp_main__"; a module it
    # imports has its own name, which is neither.
    in_child = (main and "__mp_main__" in values) == inside
    if in_main and not in_child:
        return True
    if in_child and not in_main:
        return False
    return None


class ModuleInfo:
    """Import aliases, local functions/classes, and what the module uses."""

    def __init__(self, tree: ast.Module) -> None:
        self.aliases: dict[str, str] = {}       # local name -> qualified name
        self.functions: dict[str, ast.AST] = {}
        self.classes: dict[str, ast.ClassDef] = {}
        self.imports: list[tuple[ast.AST, str, int]] = []   # (node, module, level)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.aliases[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0])
                    self.imports.append((node, alias.name, 0))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
                    self.imports.append((node, f"{base}.{alias.name}" if base else alias.name,
                                         node.level))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[node.name] = node
            elif isinstance(node, ast.ClassDef):
                self.classes[node.name] = node
        self.thread_classes = set(THREAD_CLASSES)
        self.process_classes = set(PROCESS_CLASSES)
        for cls in self.classes.values():
            bases = {dotted(b).rsplit(".", 1)[-1] for b in cls.bases}
            if bases & THREAD_CLASSES:
                self.thread_classes.add(cls.name)
            if bases & PROCESS_CLASSES:
                self.process_classes.add(cls.name)

    def qualified(self, node: ast.AST) -> str:
        name = dotted(node)
        head, _, rest = name.partition(".")
        real = self.aliases.get(head, head)
        return f"{real}.{rest}" if rest else real

    def uses(self, roots: tuple[str, ...]) -> bool:
        return any(q == r or q.startswith(r + ".")
                   for q in self.aliases.values() for r in roots)


class ImportTimeVisitor:
    """Collects findings for code that runs at import time."""

    def __init__(self, path: str, tree: ast.Module, main: bool = True) -> None:
        self.path = path
        self.main = main                  # the script itself, not a module it imports
        self.info = ModuleInfo(tree)
        self.findings: list[Finding] = []
        self.timer_vars: set[str] = set()
        self.process_vars: set[str] = set()
        self.thread_vars: set[str] = set()
        self.followed: set[str] = set()
        self.guards: list[ast.If] = []
        self._via = ""
        self._walk(tree.body)

    # ---- the walk: pre-order, with a stack of its own ----
    #
    # Deep code is valid code: a 50,000-branch elif chain, a 2,000-term
    # expression, 200 functions each calling the next.  Recursion would stop
    # at the interpreter's limit; the work stack holds (kind, item) pairs,
    # pushed in reverse so that they are handled in source order.

    def _walk(self, body: list[ast.stmt]) -> None:
        stack: list[tuple[int, object]] = [(_STATEMENT, s) for s in reversed(body)]
        while stack:
            kind, item = stack.pop()
            if kind == _SET_VIA:
                self._via = item  # type: ignore[assignment]
                continue
            if kind == _STATEMENT:
                work = self._run_statement(item)  # type: ignore[arg-type]
            else:
                work = self._run_expression(item)  # type: ignore[arg-type]
            stack.extend(reversed(work))

    # ---- statements ----

    def _run_statement(self, node: ast.stmt) -> list[tuple[int, object]]:
        """What *node* runs at import time (work for the stack)."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # defined, not run - but its default arguments and decorators are
            return [(_EXPRESSION, e) for e in (*node.args.defaults, *node.args.kw_defaults)
                    if e is not None] + self._decorators(node)
        if isinstance(node, ast.ClassDef):
            # methods: only their defaults and decorators (the branch above)
            return ([(_EXPRESSION, e) for e in (*node.bases, *node.keywords)]
                    + [(_STATEMENT, s) for s in node.body] + self._decorators(node))
        if isinstance(node, ast.If):
            guard = is_main_test(node.test, self.main)
            if guard is True:
                self.guards.append(node)
                return [(_STATEMENT, s) for s in node.orelse]
            if guard is False:
                return [(_STATEMENT, s) for s in node.body]
        if isinstance(node, ast.Assign):
            self._note_assignment(node)
        return [(_STATEMENT if isinstance(child, ast.stmt) else _EXPRESSION, child)
                for child in ast.iter_child_nodes(node)]

    def _decorators(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
                    ) -> list[tuple[int, object]]:
        """Decorators run at import time, applied innermost first; a bare
        name of a local function (``@with_app``) is a call of it."""
        work: list[tuple[int, object]] = []
        for decorator in reversed(node.decorator_list):
            if isinstance(decorator, ast.Name):
                decorator = ast.copy_location(
                    ast.Call(func=decorator, args=[], keywords=[]), decorator)
            work.append((_EXPRESSION, decorator))
        return work

    def _note_assignment(self, node: ast.Assign) -> None:
        if not isinstance(node.value, ast.Call):
            return
        kind = self._callee_name(node.value)
        for target in node.targets:
            if not isinstance(target, ast.Name):
                continue
            if kind == "QTimer":
                self.timer_vars.add(target.id)
            elif kind in self.info.process_classes:
                self.process_vars.add(target.id)
            elif kind in self.info.thread_classes:
                self.thread_vars.add(target.id)

    # ---- expressions ----

    def _run_expression(self, node: ast.AST) -> list[tuple[int, object]]:
        if isinstance(node, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef)):
            return []
        work: list[tuple[int, object]] = []
        if isinstance(node, ast.Call):
            work = self._check_call(node)
        work += [(_EXPRESSION, child) for child in ast.iter_child_nodes(node)]
        return work

    def _callee_name(self, call: ast.Call) -> str:
        return self.info.qualified(call.func).rsplit(".", 1)[-1]

    def _report(self, node: ast.AST, code: str, message: str) -> None:
        self.findings.append(Finding(self.path, getattr(node, "lineno", 1),
                                     getattr(node, "col_offset", 0) + 1, code,
                                     f"{message}{self._via}; {FIX}"))

    def _check_call(self, call: ast.Call) -> list[tuple[int, object]]:
        func = call.func
        name = self._callee_name(call)
        qualified = self.info.qualified(func)
        method = func.attr if isinstance(func, ast.Attribute) else None
        receiver = func.value if isinstance(func, ast.Attribute) else None
        if name in APP_CLASSES:
            self._report(call, "PQG001", f"{name} built at import time: a spawn or "
                         "forkserver child re-runs this and opens a second application")
        elif method in EXEC_METHODS and not call.args:
            self._report(call, "PQG002", "event loop started at import time: a child would "
                         "block in it")
        elif method in SHOW_METHODS:
            self._report(call, "PQG003", f".{method}() at import time: a child would show "
                         "a window")
        elif name == "singleShot" or (method == "start" and isinstance(receiver, ast.Name)
                                      and receiver.id in self.timer_vars):
            self._report(call, "PQG004", "timer started at import time")
        elif name in POOL_CLASSES and (qualified.startswith(MP_ROOTS) or
                                       "get_context" in qualified or name == "Pool"):
            self._report(call, "PQG005", f"{name}() at import time: every child re-runs "
                         "this and starts its own pool")
        elif method == "start" and self._starts(receiver, self.process_vars,
                                                 self.info.process_classes):
            self._report(call, "PQG005", "process started at import time: every child "
                         "re-runs this and starts another")
        elif method == "start" and self._starts(receiver, self.thread_vars,
                                                 self.info.thread_classes):
            self._report(call, "PQG006", "thread started at import time")
        elif name == "set_start_method" and not any(
                k.arg == "force" and isinstance(k.value, ast.Constant) and k.value.value
                for k in call.keywords):
            self._report(call, "PQG010", "set_start_method() at import time: in every child "
                         "it raises RuntimeError ('context has already been set') before the "
                         "process's target runs, and a Pool respawns such children forever")
        elif name == "start_new_thread":
            self._report(call, "PQG006", "thread started at import time")
        elif (name in SUBPROCESS_CALLS and qualified.startswith("subprocess.")
              and any(self.info.qualified(n) == "sys.executable" for n in
                      ast.walk(call) if isinstance(n, (ast.Attribute, ast.Name)))):
            self._report(call, "PQG005", "a Python subprocess started at import time")
        return self._follow_local_call(call)

    def _starts(self, receiver: ast.AST | None, variables: set[str], classes: set[str]) -> bool:
        if isinstance(receiver, ast.Name):
            return receiver.id in variables
        return isinstance(receiver, ast.Call) and self._callee_name(receiver) in classes

    def _follow_local_call(self, call: ast.Call) -> list[tuple[int, object]]:
        """A module-level call to a local function (or class) runs its body.

        Each function is followed once, so the work is bounded by the module's
        size however the calls chain.
        """
        if not isinstance(call.func, ast.Name):
            return []
        target = self.info.functions.get(call.func.id)
        if target is None and call.func.id in self.info.classes:
            cls = self.info.classes[call.func.id]
            target = next((s for s in cls.body if isinstance(s, ast.FunctionDef)
                           and s.name == "__init__"), None)
        if target is None or call.func.id in self.followed:
            return []
        self.followed.add(call.func.id)
        via = f" (in {call.func.id}(), called at import time on line {call.lineno})"
        return [(_SET_VIA, via),
                *[(_STATEMENT, s) for s in target.body],  # type: ignore[attr-defined]
                (_SET_VIA, self._via)]


def first_statement_calls(guard: ast.If, function: str) -> bool:
    """The guard's first statement calls *function* - after a docstring and
    imports of the standard library, which run nothing of the app's (``from
    multiprocessing import freeze_support`` then ``freeze_support()``)."""
    body = [s for s in guard.body if not (
        _imports_stdlib_only(s) or (
            isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)))]
    if not body:
        return False
    first = body[0]
    return (isinstance(first, ast.Expr) and isinstance(first.value, ast.Call)
            and dotted(first.value.func).rsplit(".", 1)[-1] == function)


def _imports_stdlib_only(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
        names = [node.module]
    else:
        return False
    return all(name.partition(".")[0] in sys.stdlib_module_names for name in names)
