"""Symbol checks for the C core linked for Windows and macOS on Linux (.ci/link-cross).

Nothing here runs the binaries: it tells what a link proves and what it
cannot.  Subcommands:

``python-def INCLUDE_DIR DLL_NAME``
    Print a module-definition (.def) file of what ``DLL_NAME`` (python311.dll)
    exports, read off CPython's headers: on Windows a symbol is exported by
    the DLL exactly when its header declares it ``PyAPI_FUNC``/``PyAPI_DATA``
    (``__declspec(dllexport)`` in the core's own build).  An import library
    made from it lets the linker say whether every CPython function the C core
    calls is one python3X.dll exports - a private function that is ``extern``
    but not ``PyAPI_FUNC`` fails the link, as it would with MSVC.

``check-pe FILE.pyd DLL_NAME``
    The .pyd exports ``PyInit__native`` and imports from ``DLL_NAME`` and
    system DLLs only (objdump -p, binutils' PE reader).

``check-macho FILE.so INCLUDE_DIR``
    The .so (thin 64-bit Mach-O) exports ``_PyInit__native``; every symbol it
    leaves to ``-undefined dynamic_lookup`` (resolved in the interpreter at
    load time) is one CPython's headers declare ``PyAPI_FUNC``/``PyAPI_DATA``
    (so a typo or a non-exported private name fails here, not on a user's
    Mac); every other undefined symbol is bound to a system library.

Example::

    python .ci/binary_symbols.py python-def /usr/include/python3.11 python311.dll > python311.def
"""
from __future__ import annotations

import re
import struct
import subprocess
import sys
from pathlib import Path

_FUNC = re.compile(r"PyAPI_FUNC\s*\((?:[^()]|\([^()]*\))*\)\s*(\w+)\s*\(")
_DATA = re.compile(r"PyAPI_DATA\s*\((?:[^()]|\([^()]*\))*\)\s*(\w+)\s*[;\[]")
# `#define PyArg_ParseTuple _PyArg_ParseTuple_SizeT` (3.11-3.12 with
# PY_SSIZE_T_CLEAN): the declaration names the left side, the DLL exports the
# right one.
_RENAME = re.compile(r"^\s*#\s*define\s+(\w+)\s+(_?Py\w+)\s*$", flags=re.M)


def python_api(include_dir: Path) -> tuple[set[str], set[str]]:
    """Return the (functions, data) CPython's headers under ``include_dir`` export."""
    functions: set[str] = set()
    data: set[str] = set()
    renames: list[tuple[str, str]] = []
    for header in sorted(include_dir.rglob("*.h")):
        text = header.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        functions.update(_FUNC.findall(text))
        data.update(_DATA.findall(text))
        renames.extend(_RENAME.findall(text))
    functions.update(new for old, new in renames if old in functions)
    if not functions:
        raise SystemExit(f"no PyAPI_FUNC declarations under {include_dir}")
    return functions, data


def python_def(include_dir: Path, dll: str) -> str:
    """The .def text of ``dll``'s exports."""
    functions, data = python_api(include_dir)
    lines = [f"LIBRARY {dll}", "EXPORTS"]
    lines += sorted(functions - data)
    lines += [f"{name} DATA" for name in sorted(data)]
    return "\n".join(lines) + "\n"


def check_pe(path: Path, dll: str) -> list[str]:
    """Problems with the PE file ``path``: missing init export, unexpected DLLs."""
    dump = subprocess.run(["objdump", "-p", str(path)], check=True,
                          capture_output=True, text=True).stdout
    problems = []
    if not re.search(r"\]\s+PyInit__native$", dump, flags=re.M):
        problems.append("PyInit__native is not exported")
    dlls = {name.lower() for name in re.findall(r"DLL Name: (\S+)", dump)}
    if dll.lower() not in dlls:
        problems.append(f"{dll} is not imported")
    system = re.compile(r"(kernel32|advapi32|dbghelp|ucrtbase|msvcrt|"
                        r"api-ms-win-[\w-]+|vcruntime140(_1)?)\.dll$")
    problems += [f"imports {name}, not a system DLL" for name in sorted(dlls)
                 if name != dll.lower() and not system.match(name)]
    return problems


_N_EXT, _N_TYPE, _N_UNDF, _N_SECT = 0x01, 0x0E, 0x0, 0xE
# The library ordinal (n_desc >> 8) of a symbol left to -undefined
# dynamic_lookup: ld64 writes DYNAMIC_LOOKUP_ORDINAL (0xfe), zig's linker 0
# (its bind opcodes say flat lookup); a system library's symbols have 1 and up.
_LOOKUP_ORDINALS = {0x0, 0xFE}
# Names the linker defines in every dylib, exported by it, not by the C core.
_LINKER_DEFINED = {"___dso_handle", "__mh_dylib_header"}


def macho_symbols(path: Path) -> list[tuple[str, int, int]]:
    """(name, n_type, n_desc) of each symbol of a thin 64-bit Mach-O file."""
    blob = path.read_bytes()
    magic, _cpu, _sub, _filetype, ncmds = struct.unpack_from("<IiiII", blob)
    if magic != 0xFEEDFACF:
        raise SystemExit(f"{path}: not a thin 64-bit little-endian Mach-O file")
    offset = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", blob, offset)
        if cmd == 0x2:  # LC_SYMTAB
            symoff, nsyms, stroff, _strsize = struct.unpack_from("<IIII", blob, offset + 8)
            symbols = []
            for index in range(nsyms):
                strx, n_type, _sect, n_desc, _value = struct.unpack_from(
                    "<IBBHQ", blob, symoff + 16 * index)
                end = blob.index(b"\0", stroff + strx)
                symbols.append((blob[stroff + strx:end].decode(), n_type, n_desc))
            return symbols
        offset += size
    raise SystemExit(f"{path}: no symbol table")


def check_macho(path: Path, include_dir: Path) -> list[str]:
    """Problems with the Mach-O file ``path`` (see the module's docstring)."""
    functions, data = python_api(include_dir)
    api = {"_" + name for name in functions | data}
    problems = []
    exported = {name for name, n_type, _ in macho_symbols(path)
                if n_type & _N_EXT and n_type & _N_TYPE == _N_SECT} - _LINKER_DEFINED
    if "_PyInit__native" not in exported:
        problems.append("_PyInit__native is not exported")
    if len(exported) != 1:
        problems.append(f"exports more than PyInit__native: {sorted(exported)[:10]}")
    for name, n_type, n_desc in macho_symbols(path):
        if n_type & _N_TYPE != _N_UNDF or not n_type & _N_EXT:
            continue
        lookup = (n_desc >> 8) & 0xFF in _LOOKUP_ORDINALS
        if lookup and name not in api:
            problems.append(f"{name[1:]}: left to the interpreter, but no header exports it")
    return problems


def main(argv: list[str]) -> int:
    """Run one subcommand; exit status 1 when a check finds problems."""
    if len(argv) == 3 and argv[0] == "python-def":
        sys.stdout.write(python_def(Path(argv[1]), argv[2]))
        return 0
    if len(argv) == 3 and argv[0] == "check-pe":
        problems = check_pe(Path(argv[1]), argv[2])
    elif len(argv) == 3 and argv[0] == "check-macho":
        problems = check_macho(Path(argv[1]), Path(argv[2]))
    else:
        raise SystemExit(__doc__)
    for problem in problems:
        print(f"{argv[1]}: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
