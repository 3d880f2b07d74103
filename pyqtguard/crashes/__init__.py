"""Crash reports: the fatal-signal handler (:mod:`.handler`), Qt's messages
and ``qFatal`` (:mod:`.qt_messages`), and reading reports back
(:mod:`.reports`: ``last_crash()``, ``pyqtguard report``).
C side: ``src/crash.c``, ``src/threadlist.c``."""
