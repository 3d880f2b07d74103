"""The package's shape stays as docs/architecture.md draws it: every import
resolves, no import cycles (counting imports inside functions), and no
module writes another pyqtguard module's private names - a component's state
is set where it lives.

Read with ``ast`` from the source, so it covers code no test happens to run.
"""
from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pyqtguard"
NATIVE = "pyqtguard._native"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()
# Against an installed wheel (.ci/check-dist copies tests/ without the
# package's source) there is nothing to read: skipped and said so, rather
# than four checks that pass over no module at all.
needs_source = pytest.mark.skipif(
    not (PACKAGE / "__init__.py").is_file(),
    reason="no source tree beside tests/ (the tests run against an installed package)")


def _package_of(name: str) -> str:
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def _imports(name: str) -> list[tuple[int, str, str | None, str]]:
    """(line, module, imported name or None, local name) for each pyqtguard
    import."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None, alias.asname or alias.name)
                      for alias in node.names if alias.name.split(".")[0] == "pyqtguard"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(name).split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "pyqtguard":
                target = node.module or ""
            else:
                continue
            found += [(node.lineno, target, alias.name, alias.asname or alias.name)
                      for alias in node.names]
    return found


def _edge(target: str, imported: str | None) -> str:
    """The module an import makes this one depend on."""
    if imported is not None and f"{target}.{imported}" in (*MODULES, NATIVE):
        return f"{target}.{imported}"
    return target


def _graph() -> dict[str, set[str]]:
    return {name: {_edge(t, i) for _, t, i, _ in _imports(name)} - {name} for name in MODULES}


def _defined_names(name: str) -> set[str]:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


@needs_source
def test_every_import_resolves():
    wrong = []
    for name in MODULES:
        for line, target, imported, _ in _imports(name):
            edge = _edge(target, imported)
            if edge == NATIVE:
                continue
            if edge not in MODULES:
                wrong.append(f"{MODULES[name]}:{line}: no module {edge}")
            elif imported is not None and edge == target and imported != "*" \
                    and imported not in _defined_names(target):
                wrong.append(f"{MODULES[name]}:{line}: {target} has no {imported}")
    assert not wrong, "\n".join(wrong)


@needs_source
def test_no_import_cycles():
    graph = _graph()
    cycles = []
    state: dict[str, int] = {}            # 1: on the path, 2: done

    for start in sorted(graph):
        if state.get(start):
            continue
        # Iterative depth-first search, keeping the path for the message.
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            following = next(stack[-1], None)
            if following is None:
                state[path.pop()] = 2
                stack.pop()
            elif following not in graph:
                continue
            elif state.get(following) == 1:
                cycles.append(" -> ".join(path[path.index(following):] + [following]))
            elif not state.get(following):
                state[following] = 1
                path.append(following)
                stack.append(iter(sorted(graph[following])))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@needs_source
def test_no_module_writes_another_modules_private_names():
    wrong = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}                       # local name -> the pyqtguard module it names
        for _, target, imported, local in _imports(name):
            edge = _edge(target, imported)
            if edge in MODULES or edge == NATIVE:
                aliases[local] = edge
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            elif isinstance(node, ast.Delete):
                targets = node.targets
            for target in targets:
                if (isinstance(target, ast.Attribute) and target.attr.startswith("_")
                        and not target.attr.startswith("__")
                        and isinstance(target.value, ast.Name)
                        and target.value.id in aliases):
                    wrong.append(f"{path}:{node.lineno}: writes "
                                 f"{aliases[target.value.id]}.{target.attr}")
    assert not wrong, "\n".join(wrong)


@needs_source
def test_the_checks_above_can_fail(tmp_path, monkeypatch):
    # The cycle finder finds a planted cycle, and the private-write finder a
    # planted write: these tests are not green by construction.
    planted = {"pyqtguard._probe_a": "from . import _probe_b as b\nb._state = 1\n",
               "pyqtguard._probe_b": "def f():\n    from . import _probe_a\n"}
    for module, source in planted.items():
        file = tmp_path / (module.rpartition(".")[2] + ".py")
        file.write_text(source)
        monkeypatch.setitem(MODULES, module, file)
    graph = _graph()
    assert "pyqtguard._probe_b" in graph["pyqtguard._probe_a"]
    assert "pyqtguard._probe_a" in graph["pyqtguard._probe_b"]
    try:
        test_no_import_cycles()
    except AssertionError as exc:
        assert "_probe_a" in str(exc)
    else:
        raise AssertionError("the planted cycle was not found")
    try:
        test_no_module_writes_another_modules_private_names()
    except AssertionError as exc:
        assert "pyqtguard._probe_b._state" in str(exc)
    else:
        raise AssertionError("the planted private write was not found")


BUILD_PRODUCTS = (".o", ".obj", ".so", ".pyd", ".dylib", ".dll", ".a", ".pyc", ".whl")


def test_no_build_products_tracked():
    # A checkout holds sources only: an object file committed by accident
    # (crash.o came in with a merge) is in every clone and looks like part
    # of the project.  Only in a git checkout (the sdist's tests have none).
    root = PACKAGE.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True,
                             check=True).stdout.decode("utf-8", "replace").split("\0")
    built = [name for name in tracked if name.endswith(BUILD_PRODUCTS)]
    assert not built, f"build products tracked by git: {built}"
