"""The child guard: spawn and forkserver children of a guarded app.
:mod:`.parent` wraps how children are launched and watches for their
refusals; :mod:`.child` runs first in each child and refuses to build a
QApplication or start processes while the main module is re-run.
Static counterpart: :mod:`pyqtguard.check`."""
