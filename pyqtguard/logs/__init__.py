"""Run logs: where they live (:mod:`.folder`) and what writes to this run's
log (:mod:`.runlog`).  C side: ``src/logfd.c`` (the log descriptor,
signal-safe writes), ``src/logprune.c`` (old runs deleted by the watchdog)."""
