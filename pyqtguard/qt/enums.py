"""Reading a ``Qt.`` enum in pyqtguard's code without racing the app's first read.

PyQt6 builds the enums of Qt's namespace - all of them, 15-40 ms of Python
code - at the first read of any one, and two threads building at once each
make their own copy: Qt then refuses the members of the copy that lost
(``setTimerType(...): argument 1 has unexpected type 'TimerType'``), and an
app that kept one (``ALIGN = Qt.AlignmentFlag.AlignLeft``) gets TypeError
from then on.  pyqtguard needs ``Qt.ConnectionType`` where the app starts its
first QThread or worker, which may be any thread, at a moment the app's GUI
thread may be reading its own first enum.

So a read that would build the namespace builds it alone: other threads run
no Python meanwhile (the GIL is not handed over by the switch interval for
the build's length), and a build another thread has begun is let finish
first.  Once built, a read is a plain attribute read.

Example::

    direct = enums.qt_enum(qtcore, "ConnectionType").DirectConnection
"""
from __future__ import annotations

import _thread
import sys
import time

from .. import _native
from ..registry import renewed_in_fork_children

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The type's own dictionary, read without the metatype's attribute lookup.
# That lookup is what builds the enums, and it builds them again while a
# build is under way: a build puts each enum in the dictionary as it goes
# and marks the namespace complete only at its end.  An enum found in the
# dictionary is read from it (whoever's build put it there, it is the one
# Qt takes), never through the lookup.
_type_dict = type.__dict__["__dict__"].__get__

# While building: another thread waiting for the GIL takes it only after
# this long (the build takes 15-40 ms; a thread that never releases the GIL
# is still interrupted after this).  It is also how long every thread may
# wait for the GIL meanwhile beside a busy Python thread (the app's own, or
# the GUI thread busy while the builder sleeps below): 0.25 s stalled the
# GUI thread 250-270 ms at the first QThread started elsewhere (7-16 ms
# without pyqtguard); this, 60-85 ms.
HOLD_SWITCH_INTERVAL = 0.06
# Longer than the switch interval a waiter may have begun its wait with
# (5 ms by default): a sleep this long lets every such waiter time out and
# run before the build, rather than interrupt it.
FLUSH_WAITERS = 0.006
# How long a build another thread has begun is waited for, at most.
WAIT_FOR_OTHER_BUILD = 0.5

# The switch interval is the process's: threads building at once share one
# hold.  The first in saves the app's interval, the last out puts it back -
# unless the app set one of its own meanwhile, which it keeps.  (Each
# restoring what it saw on entry left the second one in restoring the
# first's 0.25 s, for good: every wait for the GIL then 250 ms.)
# Re-entrant: a signal handler that starts a QThread may come in while held.
_hold_lock = renewed_in_fork_children(_thread.RLock())
_holders = 0
_saved_interval = 0.0
_held_interval = 0.0


def qt_enum(qtcore: Any, name: str) -> Any:
    """``qtcore.Qt.<name>``, built alone if this read builds Qt's enums."""
    qt = qtcore.Qt
    built = _type_dict(qt).get(name)
    return built if built is not None else _build_alone(qt, name)


def _build_alone(qt: Any, name: str) -> Any:
    me = _thread.get_ident()
    if len(_native.current_frames()) <= 1:
        return getattr(qt, name)         # no other Python thread to race
    deadline = time.monotonic() + WAIT_FOR_OTHER_BUILD
    _hold()
    try:
        while True:
            time.sleep(FLUSH_WAITERS)
            built = _type_dict(qt).get(name)
            if built is not None:
                return built
            if not _building_elsewhere(me) or time.monotonic() > deadline:
                return getattr(qt, name)
    finally:
        _unhold()


def _hold() -> None:
    global _holders, _saved_interval, _held_interval
    with _hold_lock:
        _holders += 1
        if _holders == 1:
            _saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(max(_saved_interval, HOLD_SWITCH_INTERVAL))
            _held_interval = sys.getswitchinterval()


def _unhold() -> None:
    global _holders
    with _hold_lock:
        _holders -= 1
        if _holders == 0 and sys.getswitchinterval() == _held_interval:
            sys.setswitchinterval(_saved_interval)


def _building_elsewhere(me: int) -> bool:
    """Whether another thread is inside the ``enum`` module (where PyQt6's
    build runs its Python code): a build it began and has not finished."""
    enum = sys.modules.get("enum")
    if enum is None:
        return False
    for ident, frame in _native.current_frames().items():
        while ident != me and frame is not None:
            if frame.f_code.co_filename == enum.__file__:
                return True
            frame = frame.f_back
    return False
