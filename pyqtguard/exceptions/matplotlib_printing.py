"""Exceptions matplotlib catches in a Qt app and only prints - an
``mpl_connect`` handler's, an animation's or a widget's callback's
(``CallbackRegistry.process``), a draw the Qt canvas started
(``FigureCanvasQT._draw_idle``) - reported as a slot's are (``[matplotlib]``
in the run log, with the traceback and the repeats counted, through
:mod:`.delivery` to the ``pyqtguard`` logger and ``on_exception``
callbacks), instead of only ``traceback.print_exc()`` on a stderr that a
windowed app does not have, once per frame for a draw that always fails.

Both places call ``traceback.print_exc()`` through their module's
``traceback`` name; that name is pointed at a stand-in whose ``print_exc()``
with no arguments reports the exception being handled, and which is the
``traceback`` module in everything else.  matplotlib's own choice of what to
catch is kept: with no interactive framework (no QApplication) a callback's
exception still propagates.  Loaded when those modules are imported, not at
start-up; :func:`detach` puts the module back.
"""
from __future__ import annotations

import sys
import traceback as _traceback

from .. import _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

# matplotlib module name -> the context line of its reports
WHERE = {
    "matplotlib.cbook": "exception in a callback matplotlib called "
                        "(CallbackRegistry.process: an mpl_connect handler, "
                        "an animation or widget callback)",
    "matplotlib.backends.backend_qt": "exception while drawing a figure "
                                      "(FigureCanvasQT._draw_idle)",
}
_attached: dict[str, ModuleType] = {}


class _PrintExcReports:
    """The ``traceback`` module, but for ``print_exc()``."""

    def __init__(self, where: str) -> None:
        self._where = where

    def __getattr__(self, name: str) -> Any:
        return getattr(_traceback, name)

    def print_exc(self, *args: Any, **kwargs: Any) -> None:
        exception = sys.exc_info()[1]
        if exception is not None and not args and not kwargs:
            try:
                _native.matplotlib_report(exception, self._where)
                return
            except Exception:  # noqa: BLE001 - matplotlib's own print then
                pass
        _traceback.print_exc(*args, **kwargs)


def attach(module: ModuleType) -> None:
    """When ``matplotlib.cbook`` or ``matplotlib.backends.backend_qt`` is
    imported (at once if it is)."""
    where = WHERE.get(module.__name__)
    if where is None or module.__name__ in _attached:
        return
    if getattr(module, "traceback", None) is not _traceback:
        return                          # another matplotlib: left alone
    module.traceback = _PrintExcReports(where)  # type: ignore[attr-defined]
    _attached[module.__name__] = module


def detach() -> None:
    """Put matplotlib's ``traceback`` back (uninstall)."""
    for name, module in list(_attached.items()):
        if isinstance(getattr(module, "traceback", None), _PrintExcReports):
            module.traceback = _traceback  # type: ignore[attr-defined]
        del _attached[name]
