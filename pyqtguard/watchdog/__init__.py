"""The watchdog: a C thread that keeps time without the GIL (``src/watchdog.c``)
and the guards built on it: :mod:`.exit` (bounded exit), :mod:`.freeze`
(GUI freeze detection), :mod:`.dump` (the dump signal).  :mod:`.core`
starts it and hands its report requests to the guard that asked."""
