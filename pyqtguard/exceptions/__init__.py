"""Exception hooks: ``sys.excepthook``, ``threading.excepthook`` and
``sys.unraisablehook`` as C functions (installed by :mod:`.hooks`), and
where a report goes from there (:mod:`.delivery`: the ``pyqtguard`` logger,
``on_exception`` callbacks, copies to a replaced ``sys.stderr``).
C side: ``src/exchooks.c``, ``src/excrepeats.c``, ``src/unreported.c``,
``src/tbformat.c``."""
