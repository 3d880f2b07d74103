"""Check that the sdist and the wheel hold what the source tree says they must.

Run by .ci/check-dist from the source tree's root::

    python .ci/check_dist_contents.py dist/pyqtguard-0.1.0.tar.gz wheelhouse/pyqtguard-*.whl

The lists come from the tree, not from this file, so moving modules into new
subpackages or adding a C file needs no change here:

- the sdist holds every ``src/*.c`` and ``src/*.h`` (setup.py compiles every
  ``src/*.c``; a header left out builds here and fails for everyone else),
  every ``pyqtguard/**/*.py``, setup.py, pyproject.toml, MANIFEST.in, LICENSE,
  README.md and the test suite (``tests/**/*.py``);
- the wheel holds every ``pyqtguard/**/*.py`` (a folder without
  ``__init__.py`` is not found by setuptools' package discovery and silently
  left out), ``pyqtguard/py.typed``, one compiled ``pyqtguard/_native``
  module, the license, and nothing outside ``pyqtguard/`` and its
  ``.dist-info`` (no ``src/``, no tests).

Exit status 1 with one line per problem.
"""
from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath


def tree_files(root: Path, pattern: str) -> set[str]:
    """Tracked-looking files under ``root`` matching ``pattern``, as posix paths."""
    return {p.relative_to(root).as_posix() for p in root.glob(pattern)
            if p.is_file() and "__pycache__" not in p.parts}


def sdist_problems(root: Path, sdist: Path) -> list[str]:
    """What the sdist lacks."""
    with tarfile.open(sdist) as archive:
        names = {str(PurePosixPath(*PurePosixPath(n).parts[1:])) for n in archive.getnames()}
    wanted = set()
    for pattern in ("src/*.c", "src/*.h", "pyqtguard/**/*.py", "tests/**/*.py"):
        found = tree_files(root, pattern)
        if not found:
            return [f"the tree has no {pattern}: run from the source tree's root"]
        wanted |= found
    wanted |= {"setup.py", "pyproject.toml", "MANIFEST.in", "LICENSE", "README.md",
               "pyqtguard/py.typed"}
    return [f"sdist lacks {name}" for name in sorted(wanted - names)]


def wheel_problems(root: Path, wheel: Path) -> list[str]:
    """What the wheel lacks, or holds that it should not."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    problems = [f"wheel lacks {name}" for name in
                sorted((tree_files(root, "pyqtguard/**/*.py") | {"pyqtguard/py.typed"}) - names)]
    native = [n for n in names if n.startswith("pyqtguard/_native.")
              and n.endswith((".so", ".pyd"))]
    if len(native) != 1:
        problems.append(f"wheel holds {len(native)} compiled pyqtguard._native modules: {native}")
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        problems.append("wheel lacks the license (.dist-info/licenses/LICENSE)")
    stray = sorted(n for n in names if not n.startswith("pyqtguard/")
                   and ".dist-info/" not in n and not n.startswith("pyqtguard.libs/"))
    problems += [f"wheel holds {name}, outside the package" for name in stray]
    return problems


def main(argv: list[str]) -> int:
    """Check ``argv`` = [sdist, wheel] against the current folder's tree."""
    if len(argv) != 2:
        raise SystemExit(__doc__)
    root = Path.cwd()
    problems = sdist_problems(root, Path(argv[0])) + wheel_problems(root, Path(argv[1]))
    for problem in problems:
        print(problem)
    if not problems:
        print(f"sdist and wheel contents: ok ({Path(argv[0]).name}, {Path(argv[1]).name})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
