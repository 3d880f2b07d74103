"""Build script for the C core, ``pyqtguard._native``.

Every ``src/*.c`` file is one concern of the core (README.md, "Layout"); all of
them link into the one extension module.
"""
import glob
import os
import platform
import sys

from setuptools import Extension, setup

extra_compile_args = []
if sys.platform != "win32":
    # Hidden by default: only PyInit__native is exported (PyMODINIT_FUNC), so
    # calls between the core's files are direct, not through the PLT, and its
    # pqg_* names can never clash with another library's.
    extra_compile_args = ["-std=c11", "-Wall", "-Wextra", "-fvisibility=hidden"]
    if os.environ.get("PYQTGUARD_WERROR"):
        extra_compile_args.append("-Werror")
else:
    # MSVC: C11 and its <stdatomic.h>, which needs Visual Studio 2022 17.5 or
    # later (older ones ignore the flag and fail on the header).
    extra_compile_args = ["/std:c11", "/experimental:c11atomics"]
    if os.environ.get("PYQTGUARD_WERROR"):
        extra_compile_args.append("/WX")

libraries = []
if sys.platform.startswith("linux"):
    libraries = ["pthread"]
    if platform.libc_ver()[0] == "glibc":
        # The crash handler walks native stacks with libgcc's unwinder
        # (src/crash.c): linked, so nothing is loaded at crash time.
        libraries.append("gcc_s")

setup(
    ext_modules=[
        Extension(
            "pyqtguard._native",
            sources=sorted(glob.glob(os.path.join("src", "*.c"))),
            include_dirs=["src"],
            extra_compile_args=extra_compile_args,
            libraries=libraries,
        )
    ]
)
