"""The findings ``pyqtguard check`` reports: one code per kind.

Each names code that runs when a script is imported - which is what a spawn
or forkserver child does to the main module - and would run again there.
"""
from __future__ import annotations

from .._escape import printable

ERROR = "error"
WARNING = "warning"

# code -> (severity, short title); the README's table is this one.
RULES: dict[str, tuple[str, str]] = {
    "PQG001": (ERROR, "a QApplication/QGuiApplication/QCoreApplication is built at import time"),
    "PQG002": (ERROR, "an event loop is started (exec) at import time"),
    "PQG003": (ERROR, "a widget or window is shown at import time"),
    "PQG004": (ERROR, "a timer is started at import time"),
    "PQG005": (ERROR, "a process or process pool is started at import time"),
    "PQG006": (ERROR, "a thread is started at import time"),
    "PQG007": (ERROR, "an imported project module builds a QApplication or starts "
                      "processes at import time"),
    "PQG008": (WARNING, "multiprocessing is used but freeze_support() is not called first "
                        "under the main guard"),
    "PQG009": (ERROR, "the file does not parse (a syntax error, or beyond the parser's limits)"),
    "PQG010": (ERROR, "set_start_method() is called at import time (without force=True)"),
}

FIX = 'move it under `if __name__ == "__main__":` (or into a function called from there)'


class Finding:
    """One finding: ``path:line:col: code message``."""

    __slots__ = ("path", "line", "col", "code", "message")

    def __init__(self, path: str, line: int, col: int, code: str, message: str) -> None:
        self.path = path
        self.line = line
        self.col = col
        self.code = code
        self.message = message

    @property
    def severity(self) -> str:
        return RULES[self.code][0]

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "col": self.col, "code": self.code,
                "severity": self.severity, "message": self.message}

    def __str__(self) -> str:
        """One line whatever the file's name: non-printable characters escaped."""
        return printable(f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}")

    def __repr__(self) -> str:
        return f"Finding({str(self)!r})"
