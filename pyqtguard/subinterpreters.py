"""``install()`` in a subinterpreter (3.12+: ``_interpreters``,
``concurrent.interpreters``): nothing is done there, with a RuntimeWarning -
pyqtguard runs in the main interpreter, and ``install()`` there guards the
whole process (see docs/threads.md).  No import of the C core here: an
isolated subinterpreter refuses it, and this is what it is told instead.
"""
from __future__ import annotations


def in_subinterpreter() -> bool:
    """Whether this is not the main interpreter (asked only when the C core
    did not load: the interpreters module is imported then alone)."""
    try:
        import _interpreters as interpreters  # 3.13+
    except ImportError:
        try:
            import _xxsubinterpreters as interpreters  # 3.12 (a test module in 3.11)
        except ImportError:
            return False
    current, main = interpreters.get_current(), interpreters.get_main()
    if isinstance(current, tuple):               # 3.13+: (id, whence)
        current, main = current[0], main[0]
    return bool(current != main)


def not_installed_here(stacklevel: int) -> None:
    """install() in a subinterpreter: nothing done (see install()); the
    warning names the caller *stacklevel* frames up."""
    import warnings

    warnings.warn(
        "pyqtguard.install() in a subinterpreter does nothing: pyqtguard runs in the "
        "main interpreter, and install() there guards the whole process (a crash in a "
        "subinterpreter's thread is reported too); call it in the main interpreter",
        RuntimeWarning, stacklevel=stacklevel)
    return None
