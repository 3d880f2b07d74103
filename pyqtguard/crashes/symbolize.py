"""Function names for the native frames of a crash report, found afterwards.

The crash handler takes no lock, so it cannot ask the dynamic loader which
function an address is in (glibc's ``_dl_addr`` locks the loader; see
``src/nativestack.c``).  It writes each frame raw instead::

    Native stack of the crashing thread (most recent call first; ...):
      #0 0x7f3a1c2051d3 /opt/app/libdecoder.so +0x11d3
      #1 0x7f3a1c9eef7a /usr/lib/x86_64-linux-gnu/libffi.so.8 +0x6f7a

and this module, run by ``pyqtguard report`` (not by the crashed process),
reads the named modules' ELF symbol tables (``.symtab``, else ``.dynsym``;
a separate debug file under ``/usr/lib/debug/.build-id`` when one is
installed) and appends the function::

      #0 0x7f3a1c2051d3 /opt/app/libdecoder.so +0x11d3 in decode_frame+0x9

A frame stays as module + offset when its module is gone, is not a regular
ELF file, was replaced after the crash (newer modification time), or has no
symbol there.  C++ names are demangled with ``c++filt`` when it is present.

    >>> from pyqtguard.crashes.symbolize import annotate_native_stack
    >>> print(annotate_native_stack(report_text))    # doctest: +SKIP
"""
from __future__ import annotations

import bisect
import calendar
import os
import re
import shutil
import stat
import struct
import subprocess
import time
from pathlib import Path

__all__ = ["annotate_native_stack", "ElfSymbols"]

_HEADING = "Native stack of the crashing thread"
_FRAME = re.compile(
    r"^(?P<lead>  #(?P<n>\d+) 0x(?P<pc>[0-9a-f]+) )(?P<module>.+) \+0x(?P<offset>[0-9a-f]+)$")
_TIME = re.compile(r"^time: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? UTC$", re.M)
_ESCAPE = re.compile(r"\\x([0-9a-f]{2})")

_MAX_ELF_BYTES = 4 << 30           # a module bigger than this is not read
_MAX_TABLE_BYTES = 256 << 20       # one symbol or string table
_DEBUG_ROOT = Path("/usr/lib/debug/.build-id")

_PT_LOAD, _SHT_SYMTAB, _SHT_DYNSYM, _SHT_NOTE = 1, 2, 11, 7
_STT_FUNC, _STT_GNU_IFUNC = 2, 10


class ElfSymbols:
    """The function symbols of one ELF file, looked up by file offset.

    Raises OSError if *path* is not a readable regular file and ValueError if
    it is not ELF.  Only headers and symbol tables are read, whatever the
    file's size.

        >>> libc = ElfSymbols("/lib/x86_64-linux-gnu/libc.so.6")  # doctest: +SKIP
        >>> libc.lookup_offset(0x8a050)                           # doctest: +SKIP
        ('__libc_malloc', 0)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        # Never open what is not a regular file: opening a device can have
        # effects (a tape rewinds).  Checked again on the open descriptor
        # (the path may change in between); O_NONBLOCK: a FIFO swapped in
        # then must not block the open.
        if not stat.S_ISREG(os.stat(self.path).st_mode):
            raise OSError(f"{self.path}: not a regular file")
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise OSError(f"{self.path}: not a regular file")
            if info.st_size > _MAX_ELF_BYTES:
                raise OSError(f"{self.path}: too big to read")
            self.mtime = info.st_mtime
            self._size = info.st_size
            self._read(stream)

    # ---- reading ---------------------------------------------------------

    def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        ident = stream.read(16)
        if len(ident) < 16 or ident[:4] != b"\x7fELF" or ident[4] not in (1, 2) \
                or ident[5] not in (1, 2):
            raise ValueError(f"{self.path}: not an ELF file")
        self._wide = ident[4] == 2
        end = "<" if ident[5] == 1 else ">"
        if self._wide:
            fields = struct.unpack(end + "HHIQQQIHHHHHH", self._exact(stream, 16, 48))
        else:
            fields = struct.unpack(end + "HHIIIIIHHHHHH", self._exact(stream, 16, 36))
        (_type, _machine, _version, _entry, phoff, shoff, _flags, _ehsize,
         phentsize, phnum, shentsize, shnum, shstrndx) = fields
        self._loads = self._program_headers(stream, end, phoff, phentsize, phnum)
        sections = self._section_headers(stream, end, shoff, shentsize, shnum)
        self.build_id = self._build_id(stream, end, sections)
        self._values: list[int] = []
        self._sizes: list[int] = []
        self._names: list[bytes] = []
        for wanted in (_SHT_SYMTAB, _SHT_DYNSYM):   # the full table when there is one
            table = next((s for s in sections if s[0] == wanted), None)
            if table is not None and 0 <= table[3] < len(sections):
                self._load_symbols(stream, end, table, sections[table[3]])
                if self._values:
                    break

    def _exact(self, stream, offset: int, size: int) -> bytes:  # type: ignore[no-untyped-def]
        if offset < 0 or size < 0 or size > _MAX_TABLE_BYTES or offset + size > self._size:
            raise ValueError(f"{self.path}: damaged ELF (out of bounds)")
        stream.seek(offset)
        data = stream.read(size)
        if len(data) != size:
            raise ValueError(f"{self.path}: truncated ELF")
        return data

    def _program_headers(self, stream, end, phoff, phentsize, phnum):  # type: ignore[no-untyped-def]
        fmt = end + ("IIQQQQQQ" if self._wide else "IIIIIIII")
        if phnum == 0 or phentsize < struct.calcsize(fmt):
            return []
        loads = []
        data = self._exact(stream, phoff, phentsize * phnum)
        for i in range(phnum):
            entry = struct.unpack_from(fmt, data, i * phentsize)
            if self._wide:
                p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = entry[:6]
            else:
                p_type, p_offset, p_vaddr, _paddr, p_filesz = entry[:5]
            if p_type == _PT_LOAD:
                loads.append((p_offset, p_vaddr, p_filesz))
        return loads

    def _section_headers(self, stream, end, shoff, shentsize, shnum):  # type: ignore[no-untyped-def]
        """(type, offset, size, link, entsize) of each section."""
        fmt = end + ("IIQQQQIIQQ" if self._wide else "IIIIIIIIII")
        if shoff == 0 or shnum == 0 or shentsize < struct.calcsize(fmt):
            return []
        data = self._exact(stream, shoff, shentsize * shnum)
        sections = []
        for i in range(shnum):
            (_name, s_type, _flags, _addr, offset, size, link, _info, _align,
             entsize) = struct.unpack_from(fmt, data, i * shentsize)
            sections.append((s_type, offset, size, link, entsize))
        return sections

    def _build_id(self, stream, end, sections) -> str | None:  # type: ignore[no-untyped-def]
        for s_type, offset, size, _link, _entsize in sections:
            if s_type != _SHT_NOTE or size > 1 << 16:
                continue
            data = self._exact(stream, offset, size)
            pos = 0
            while pos + 12 <= len(data):
                namesz, descsz, n_type = struct.unpack_from(end + "III", data, pos)
                name_at = pos + 12
                desc_at = name_at + (namesz + 3) // 4 * 4
                if n_type == 3 and data[name_at:name_at + namesz] == b"GNU\0":
                    return data[desc_at:desc_at + descsz].hex()
                pos = desc_at + (descsz + 3) // 4 * 4
        return None

    def _load_symbols(self, stream, end, table, strings) -> None:  # type: ignore[no-untyped-def]
        _type, offset, size, _link, _entsize = table
        names = self._exact(stream, strings[1], strings[2])
        data = self._exact(stream, offset, size - size % (24 if self._wide else 16))
        found = []
        if self._wide:
            for name, info, _other, shndx, value, sym_size in struct.iter_unpack(
                    end + "IBBHQQ", data):
                if shndx and value and (info & 0xf) in (_STT_FUNC, _STT_GNU_IFUNC):
                    found.append((value, sym_size, name))
        else:
            for name, value, sym_size, info, _other, shndx in struct.iter_unpack(
                    end + "IIIBBH", data):
                if shndx and value and (info & 0xf) in (_STT_FUNC, _STT_GNU_IFUNC):
                    found.append((value, sym_size, name))
        found.sort()
        self._values = [v for v, _, _ in found]
        self._sizes = [s for _, s, _ in found]
        self._names = [names[n:names.find(b"\0", n)] if 0 <= n < len(names) else b"?"
                       for _, _, n in found]

    # ---- lookups ---------------------------------------------------------

    def vaddr_of(self, file_offset: int) -> int | None:
        """The virtual address (as linked) of a byte at *file_offset*."""
        for p_offset, p_vaddr, p_filesz in self._loads:
            if p_offset <= file_offset < p_offset + p_filesz:
                return file_offset - p_offset + p_vaddr
        return None

    def lookup_vaddr(self, vaddr: int) -> tuple[str, int] | None:
        """(function, offset into it) for an address, or None."""
        index = bisect.bisect_right(self._values, vaddr) - 1
        # Aliases share an address; the sized one that holds vaddr wins.
        while index >= 0:
            value, size = self._values[index], self._sizes[index]
            if value <= vaddr < value + max(size, 1):
                return self._names[index].decode("utf-8", "replace"), vaddr - value
            if index > 0 and self._values[index - 1] == value:
                index -= 1
                continue
            return None
        return None

    def lookup_offset(self, file_offset: int) -> tuple[str, int] | None:
        """(function, offset into it) for a file offset, or None."""
        vaddr = self.vaddr_of(file_offset)
        return None if vaddr is None else self.lookup_vaddr(vaddr)

    @property
    def has_symbols(self) -> bool:
        return bool(self._values)


def _separate_debug_file(elf: ElfSymbols) -> ElfSymbols | None:
    """The installed debug file with the same build id (distributions ship
    stripped libraries and put the symbols there), if any."""
    if not elf.build_id or len(elf.build_id) < 4:
        return None
    candidate = _DEBUG_ROOT / elf.build_id[:2] / f"{elf.build_id[2:]}.debug"
    try:
        debug = ElfSymbols(candidate)
    except (OSError, ValueError):
        return None
    return debug if debug.has_symbols and debug.build_id == elf.build_id else None


def _unescape(path: str) -> str:
    """The module path as the handler escaped it (\\xNN) back to a path."""
    raw = _ESCAPE.sub(lambda m: chr(int(m[1], 16)), path)
    return os.fsdecode(raw.encode("latin-1", "replace"))


def _crash_time(text: str) -> float | None:
    match = _TIME.search(text)
    if match is None:
        return None
    try:
        return calendar.timegm(time.strptime(match[1], "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return None


class _Modules:
    """ELF files opened once per annotation; a failure is remembered too."""

    def __init__(self, crash_time: float | None) -> None:
        self._crash_time = crash_time
        self._open: dict[str, tuple[ElfSymbols | None, ElfSymbols | None, str]] = {}

    def get(self, path: str) -> tuple[ElfSymbols | None, ElfSymbols | None, str]:
        """(module, module holding the symbols, why not) for a path."""
        if path not in self._open:
            self._open[path] = self._load(path)
        return self._open[path]

    def _load(self, path: str) -> tuple[ElfSymbols | None, ElfSymbols | None, str]:
        if not path.startswith("/") or path.endswith(" (deleted)"):
            return None, None, ""
        try:
            elf = ElfSymbols(path)
        except (OSError, ValueError):
            return None, None, "module unreadable"
        # A module replaced since the crash (an upgrade) would give wrong
        # names; one second of slack for the clock's resolution.
        if self._crash_time is not None and elf.mtime > self._crash_time + 1:
            return None, None, "module changed since the crash"
        symbols = _separate_debug_file(elf) or elf
        return elf, symbols, ""


def _demangle(names: list[str]) -> dict[str, str]:
    mangled = sorted({n for n in names if n.startswith("_Z") and "\n" not in n})
    tool = shutil.which("c++filt")
    if not mangled or tool is None:
        return {}
    try:
        done = subprocess.run([tool], input="\n".join(mangled) + "\n", capture_output=True,
                              text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    out = done.stdout.splitlines()
    return dict(zip(mangled, out)) if len(out) == len(mangled) else {}


def annotate_native_stack(text: str) -> str:
    """*text* (a crash report) with each native frame's function appended.

    Frames that cannot be resolved are left as written (module + offset).
    Reads only the modules the report names; never raises for a damaged or
    forged report.
    """
    start = text.find(_HEADING)
    if start < 0:
        return text
    block_end = text.find("\n\n", start)
    block_end = len(text) if block_end < 0 else block_end
    lines = text[start:block_end].split("\n")
    modules = _Modules(_crash_time(text))
    resolved: list[tuple[int, str, int, str]] = []      # line index, name, delta, note
    for index, line in enumerate(lines):
        match = _FRAME.match(line)
        if match is None:
            continue
        elf, symbols, why = modules.get(_unescape(match["module"]))
        if elf is None or symbols is None:
            if why:
                resolved.append((index, "", 0, why))
            continue
        offset = int(match["offset"], 16)
        # A caller's frame holds a return address, which may already be the
        # next function's first byte: look up the byte before it.  Frame #0
        # is where the fault happened, exactly.
        back = 0 if match["n"] == "0" else 1
        vaddr = elf.vaddr_of(offset - back)
        found = symbols.lookup_vaddr(vaddr) if vaddr is not None else None
        if found is not None:
            resolved.append((index, found[0], found[1] + back, ""))
    names = _demangle([name for _, name, _, _ in resolved])
    for index, name, delta, note in resolved:
        if name:
            lines[index] += f" in {names.get(name, name)}+0x{delta:x}"
        else:
            lines[index] += f" ({note})"
    return text[:start] + "\n".join(lines) + text[block_end:]
