"""Attaching to Qt without importing it: when PyQt6 is imported, when its
event loop starts and ends (:mod:`.attach`), and calls posted to the GUI
thread (:mod:`.guithread`).  C side: ``src/sipattach.c``."""
