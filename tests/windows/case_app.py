"""One small PyQt6 app per trouble, for tests/windows/cases.py.

    python case_app.py CASE [guard]

CASE: slot (raises in a slot), ctypes (ctypes.string_at(0) in a worker
thread: on Windows ctypes catches the access violation and raises OSError),
segv (a real access violation in a worker thread, faulthandler._read_null),
segv-main (the same in the GUI thread), overflow (a stack overflow in a
worker thread: Python recursion through map(), no recursion limit),
native-segv / native-overflow (a thread Python did not start, CreateThread,
reads address 0 / calls itself until its stack ends: machine code written
to executable memory, Windows x86_64 only), native-segv-two (two such
threads wait for a flag, then read address 0 at once: the second waits for
the first's report),
freeze (the GUI thread sleeps 2 s in a slot), stuck (a
non-daemon thread never ends), ok.  With "guard", pyqtguard.install() first
(the log folder, exit timeout and freeze threshold come from the
PYQTGUARD_* variables cases.py sets).  Each prints a line before the trouble
and "exit" after app.exec() returns."""
import sys

if len(sys.argv) > 2 and sys.argv[2] == "guard":
    import pyqtguard
    pyqtguard.install()

import ctypes
import faulthandler
import threading
import time

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QLabel

case = sys.argv[1]
app = QApplication(sys.argv[:1])
label = QLabel(case)
label.show()


def native_thread(code, memory=None):
    """Start a Windows thread (not Python's) that runs *code* (or what is at
    *memory* already); returns where the code is."""
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.VirtualAlloc.restype = ctypes.c_void_p
    kernel32.VirtualAlloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_uint32]
    kernel32.CreateThread.restype = ctypes.c_void_p
    kernel32.CreateThread.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                      ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p]
    if memory is None:
        memory = kernel32.VirtualAlloc(None, 4096, 0x3000, 0x40)   # commit|reserve, RWX
        ctypes.memmove(memory, code, len(code))
    kernel32.CreateThread(None, 0, memory, None, 0, None)
    return memory


def deep(n):
    return deep(n - 1) if n else time.sleep(60)


def recurse(n):
    return list(map(recurse, [n - 1])) if n else 0


def trouble():
    print("trouble:", case, flush=True)
    if case == "slot":
        raise ValueError("raised in a slot")
    if case in ("ctypes", "segv", "overflow"):
        if case == "overflow":   # past the C stack before the recursion limits
            sys.setrecursionlimit(1_000_000)   # (Windows' thread stacks: 2 MB)
        target = {"ctypes": lambda: ctypes.string_at(0), "segv": lambda: faulthandler._read_null(),
                  "overflow": lambda: recurse(100000)}[case]
        worker = threading.Thread(target=target, name=f"{case}-worker")
        worker.start()
        worker.join()
    if case in ("native-segv", "native-overflow"):
        native_thread({"native-segv": b"\x48\x8b\x04\x25\x00\x00\x00\x00",  # mov rax, [0]
                       "native-overflow": b"\xe8\xfb\xff\xff\xff"}[case])   # call itself
        time.sleep(3)
    if case == "native-segv-two":
        # A report that takes a while to write: 40 Python threads 60 frames deep.
        for i in range(40):
            threading.Thread(target=deep, args=(60,), name=f"deep-{i}", daemon=True).start()
        time.sleep(0.5)
        memory = native_thread(b"\x48\x8b\x05\x11\x00\x00\x00"    # 0: mov rax, [rip+17] (the flag)
                               b"\x48\x85\xc0\x74\xf4"              # 7: test rax, rax; jz 0
                               b"\x48\x8b\x04\x25\x00\x00\x00\x00")  # 12: mov rax, [0]
        native_thread(None, memory)
        time.sleep(0.2)
        ctypes.c_int64.from_address(memory + 24).value = 1       # 24: the flag
        time.sleep(3)
    if case == "segv-main":
        faulthandler._read_null()
    if case == "freeze":
        time.sleep(2)
    if case == "stuck":
        threading.Thread(target=threading.Event().wait, name="stuck-worker").start()


QTimer.singleShot(100, trouble)
QTimer.singleShot(600 if case != "freeze" else 2800, app.quit)
status = app.exec()
print("exit", status, flush=True)
sys.exit(status)
