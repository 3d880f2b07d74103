"""The thread registry: every thread under its name while it runs.
:mod:`.kinds` (what a thread is, recording it), :mod:`.tracking` (Python
threads; QThread tracking attached on first use), :mod:`.qthreads`
(QThread names, keep-alive, stop at exit), :mod:`.listing`
(``pyqtguard.threads()``, ``dump_threads()``).
C side: ``src/threadtable.c``, ``src/sipattach.c``, ``src/ownthread.c``."""
