"""pyqtguard.crashes.symbolize: native frames named after the crash, from the ELF
symbol tables of the modules a report names - and hostile reports (forged
paths to FIFOs, devices, folders, damaged or huge files, newlines in names)
read without blocking or raising."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import threading

import pytest

from pyqtguard.crashes.symbolize import ElfSymbols, annotate_native_stack

pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF: Linux"),
              pytest.mark.needs_cc]

LIB_SOURCE = r"""
int helper_value = 3;
static int hidden_step(int x) { return x * helper_value + 1; }
int decode_frame(int x) { return hidden_step(x) + 2; }
"""


def _report(*frames: str, time: str = "2099-01-01 00:00:00.000 UTC") -> str:
    body = "\n".join(f"  #{i} 0x7f0000001000 {frame}" for i, frame in enumerate(frames))
    return ("=== pyqtguard crash report ===\nsignal: SIGSEGV (Segmentation fault)\n"
            f"time: {time}\npid: 1\nthread: 'MainThread' (native id 1)\n\n"
            "Native stack of the crashing thread (most recent call first; libgcc "
            f"unwinder; names: pyqtguard report):\n{body}\n\nThreads (ident, native id, "
            "kind, name):\n")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lib")
    source = folder / "decoder.c"
    source.write_text(LIB_SOURCE)
    lib = folder / "libdecoder.so"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.fail("no C compiler")
    subprocess.run([compiler, "-shared", "-fPIC", "-O0", "-o", str(lib), str(source)],
                   check=True, timeout=120)
    return lib


def _file_offset_of(lib, name: str) -> int:
    elf = ElfSymbols(lib)
    for value, size, symbol in zip(elf._values, elf._sizes, elf._names):
        if symbol == name.encode():
            for p_offset, p_vaddr, p_filesz in elf._loads:
                if p_vaddr <= value < p_vaddr + p_filesz:
                    return value - p_vaddr + p_offset
    raise AssertionError(f"{name} not in {lib}")


def test_global_and_static_functions_are_named(library):
    decode = _file_offset_of(library, "decode_frame")
    hidden = _file_offset_of(library, "hidden_step")
    text = annotate_native_stack(_report(f"{library} +0x{hidden + 4:x}",
                                         f"{library} +0x{decode + 9:x}"))
    lines = text.split("Native stack", 1)[1].splitlines()
    assert lines[1].endswith(" in hidden_step+0x4"), text      # #0: exact address
    assert lines[2].endswith(" in decode_frame+0x9"), text     # caller: return address


def test_a_return_address_at_a_functions_end_names_the_caller(library):
    # A call as the last instruction returns to the next function's first
    # byte: the byte before the return address is the caller's.
    hidden = _file_offset_of(library, "hidden_step")
    decode = _file_offset_of(library, "decode_frame")
    assert hidden < decode
    text = annotate_native_stack(_report(f"{library} +0x{hidden:x}",
                                         f"{library} +0x{decode:x}"))
    lines = text.split("Native stack", 1)[1].splitlines()
    assert lines[1].endswith(" in hidden_step+0x0") and "decode_frame" not in lines[2], text


def test_module_changed_since_the_crash_is_not_trusted(library):
    decode = _file_offset_of(library, "decode_frame")
    text = annotate_native_stack(_report(f"{library} +0x{decode:x}",
                                         time="2001-01-01 00:00:00.000 UTC"))
    assert "decode_frame" not in text and "(module changed since the crash)" in text


def test_hostile_paths_neither_block_nor_raise(tmp_path, library):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    not_elf = tmp_path / "notes.txt"
    not_elf.write_text("hello\n" * 100)
    truncated = tmp_path / "truncated.so"
    truncated.write_bytes(library.read_bytes()[:200])
    damaged = tmp_path / "damaged.so"
    data = bytearray(library.read_bytes())
    data[0x28:0x30] = (2 ** 62).to_bytes(8, "little")      # e_shoff far away
    damaged.write_bytes(bytes(data))
    sparse = tmp_path / "huge.so"
    with open(sparse, "wb") as out:                         # 8 GiB, sparse
        out.truncate(8 << 30)
    odd_name = tmp_path / "new\nline.so"
    shutil.copy(library, odd_name)
    decode = _file_offset_of(library, "decode_frame")
    frames = [f"{fifo} +0x10", "/dev/zero +0x10", f"{tmp_path} +0x10", f"{not_elf} +0x10",
              f"{truncated} +0x10", f"{damaged} +0x10", f"{sparse} +0x10",
              str(odd_name).replace("\n", "\\x0a") + f" +0x{decode + 1:x}",
              "[anonymous] +0x10", "/no/such/lib.so +0x10", "relative.so +0x10"]
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(annotate_native_stack(
        _report(*frames))), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "blocked on a hostile path"
    text = result[0]
    lines = text.split("Native stack", 1)[1].splitlines()[1:len(frames) + 1]
    assert all(" in " not in line for i, line in enumerate(lines) if i != 7), text
    assert lines[7].endswith(" in decode_frame+0x1"), text  # the escaped name, unescaped
    assert text.count("\n") == _report(*frames).count("\n")  # no line forged


def test_text_without_native_stack_is_returned_unchanged():
    for text in ("", "a clean run\n", "Native stack of the crashing thread\n  #0 0x1 (no module)"):
        assert annotate_native_stack(text) == text
