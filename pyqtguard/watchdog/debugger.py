"""A thread stopped at a breakpoint: being debugged, not hung.

The exit deadline (:mod:`.exit`) and freeze detection (:mod:`.freeze`) ask
here before they act: a developer sitting at a ``breakpoint()`` after
``app.exec()`` returned must not have the process killed, and a GUI thread
stopped in the debugger is no freeze to report.

Recognised by the frames of the stopped thread, which every such debugger
has while it waits for its user:

- bdb-based debuggers (pdb, ``breakpoint()``, ipdb, pudb, web-pdb,
  remote-pdb): a ``bdb`` ``dispatch_*`` frame that called the debugger's
  ``user_*`` method (bdb calls it only to stop), or their ``interaction``
  method - a ``bdb.Bdb`` subclass's, not any function of that name - (a
  post-mortem: ``pdb.post_mortem()``, ``python -m pdb`` after an uncaught
  exception);
- pydevd (PyCharm; VS Code through debugpy): ``do_wait_suspend``.

A trace function alone (coverage, a profiler, a debugger that is not
stopped) is no reason: a hung program under coverage still ends at its
deadline.  Loaded only when a report is due: nothing at start-up.

Example::

    from pyqtguard.watchdog import debugger
    held = debugger.stopped_threads()     # {"MainThread": "pdb"} at a breakpoint
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType, FrameType

# A stopped debugger's frames sit above the app's: how far up to look.
_DEPTH = 64
_PYDEVD_WAITS = frozenset({"do_wait_suspend", "_do_wait_suspend"})


def _debugger_interactions() -> frozenset[CodeType]:
    """The code of every ``interaction`` method of a ``bdb.Bdb`` subclass
    loaded now (pdb's, ipdb's, pudb's...): where a post-mortem waits.  An
    app's own function of that name is none of them."""
    bdb = sys.modules.get("bdb")
    if bdb is None:
        return frozenset()
    codes = set()
    classes, seen = [bdb.Bdb], set()
    while classes and len(seen) < 1000:
        cls = classes.pop()
        if cls in seen:
            continue
        seen.add(cls)
        method = cls.__dict__.get("interaction")
        for _ in range(10):                   # through functools.wraps decorators
            code = getattr(method, "__code__", None)
            if code is not None:
                codes.add(code)
            method = getattr(method, "__wrapped__", None)
            if method is None:
                break
        classes.extend(type.__subclasses__(cls))
    return frozenset(codes)


def debugger_of(frame: FrameType | None) -> str | None:
    """The debugger the thread whose innermost frame is *frame* is stopped
    in (``"pdb"``, ``"pydevd"``...), or None."""
    callee = None
    interactions: frozenset[CodeType] | None = None
    for _ in range(_DEPTH):
        if frame is None:
            return None
        module = frame.f_globals.get("__name__", "")
        name = frame.f_code.co_name
        if (module == "bdb" and name.startswith("dispatch_") and callee is not None
                and callee.f_code.co_name.startswith("user_")):
            # bdb calls user_line() & co. only to stop there: the debugger's
            # prompt; named for the module that defines that method
            return str(callee.f_globals.get("__name__", "bdb")).partition(".")[0]
        if name in _PYDEVD_WAITS and str(module).rpartition(".")[2] == "pydevd":
            return "pydevd"
        if name == "interaction":
            if interactions is None:
                interactions = _debugger_interactions()
            if frame.f_code in interactions:
                return str(module).partition(".")[0]  # post-mortem: no bdb frame

        callee, frame = frame, frame.f_back
    return None


def stopped_threads() -> dict[str, str]:
    """Thread name -> debugger, for every thread stopped in a debugger now
    (names as the thread registry gives them: ``MainThread`` too when the
    app never imported :mod:`threading`)."""
    from .. import _native
    from ..registry import listing

    names = {t.ident: t.name for t in listing.threads(all=True) if t.ident is not None}
    stopped = {}
    for ident, frame in _native.current_frames().items():
        debugger = debugger_of(frame)
        if debugger is not None:
            stopped[names.get(ident, f"thread {ident:#x}")] = debugger
    return stopped


def describe(stopped: dict[str, str]) -> str:
    """``'MainThread' is stopped in a debugger (pdb)`` for the log."""
    parts = [f"{name!r} is stopped in a debugger ({debugger})"
             for name, debugger in sorted(stopped.items())]
    return "; ".join(parts)
