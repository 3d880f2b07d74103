"""pyqtguard on a real window system: apps run under Qt's ``xcb`` platform on
an Xvfb server this file starts (every other test runs ``offscreen``).

Under xcb Qt starts threads of its own (``QXcbEventQueue``,
``QDBusConnection``), a modal dialog blocks the clicks the window system
delivers to the app's other windows, and ``QDrag.exec()`` runs X11's drag
loop (``QXcbDrag``).  Skipped, with the reason, where Xvfb or Qt's xcb
plugin (its Debian libraries: see .ci/run) is missing.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from apprunner import child_env


def _start_xvfb() -> tuple[subprocess.Popen[bytes] | None, str]:
    """An Xvfb server on a free display (``-displayfd``: the server picks
    it and writes its number): (process, ":N"), or (None, why not)."""
    if shutil.which("Xvfb") is None:
        return None, "Xvfb is not installed (Debian: xvfb)"
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0",
                             "1280x1024x24", "-nolisten", "tcp"],
                            pass_fds=(write_end,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as numbers:
        number = numbers.readline().strip()     # "" if it died first
    if not number.isdigit():
        proc.kill()
        proc.wait()
        return None, "Xvfb did not start"
    return proc, f":{number}"


@pytest.fixture(scope="module")
def display() -> object:
    """The display of a running Xvfb whose xcb platform Qt can load."""
    proc, display = _start_xvfb()
    if proc is None:
        pytest.skip(display)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "from PyQt6.QtGui import QGuiApplication; "
             "QGuiApplication([]); print('xcb up')"],
            env={**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"},
            capture_output=True, text=True, timeout=60)
        if "xcb up" not in probe.stdout:
            why = [line for line in probe.stderr.splitlines() if line.strip()]
            pytest.skip("Qt's xcb platform plugin does not load here (Debian: libxcb-cursor0 "
                        "libxcb-icccm4 libxcb-keysyms1 ..., see .ci/run): "
                        + (why[0] if why else f"exit status {probe.returncode}"))
        yield display
    finally:
        proc.kill()
        proc.wait()


def _env(tmp_path: Path, display: str) -> dict[str, str]:
    env = child_env(tmp_path / "logs")
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
    return env


def _run(source: str, tmp_path: Path, display: str,
         timeout: float = 30) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path,
                          env=_env(tmp_path, display), capture_output=True, text=True,
                          timeout=timeout, errors="replace")


def _log(tmp_path: Path) -> str:
    logs = sorted((tmp_path / "logs").rglob("*.log"))
    return logs[-1].read_text(errors="replace") if logs else ""


# The error comes from a modal dialog's own work (a rename that fails), or
# ({error_first}) came before the modal dialog opened.
MODAL_APP = """
    import sys
    ERROR_FIRST = {error_first}
    import pyqtguard
    pyqtguard.install(dialogs=True)
    from PyQt6.QtCore import Qt, QTimer
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication, QDialog, QLineEdit, QMainWindow, QVBoxLayout

    app = QApplication(sys.argv)
    window = QMainWindow()
    window.resize(700, 500)
    window.show()

    def notification():
        found = [w for w in QApplication.topLevelWidgets()
                 if w.objectName() == "pyqtguardErrorNotification" and w.isVisible()]
        return found[0] if found else None

    def fail():
        raise ValueError("rename could not parse 'data.csv'")

    def check(dialog, tries=[0]):
        note = notification()
        if note is None and tries[0] < 50:
            tries[0] += 1
            QTimer.singleShot(100, lambda: check(dialog))
            return
        print("shown:", note is not None, flush=True)
        if note is None:
            dialog.reject()
            return
        print("covers the dialog:", note.frameGeometry().intersects(dialog.frameGeometry()))
        button = note.dismiss
        centre = button.mapTo(note, button.rect().center())
        # A click as the window system delivers it: through QGuiApplication,
        # where a modal dialog drops clicks on the windows it blocks (QTest's
        # QWidget overloads send to the widget directly, past that check).
        QTest.mouseClick(note.windowHandle(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, centre)
        QTimer.singleShot(300, lambda: (print("dismissed:", not note.isVisible(), flush=True),
                                        dialog.reject()))

    def ask():
        dialog = QDialog(window)
        QVBoxLayout(dialog).addWidget(QLineEdit(dialog))
        dialog.resize(300, 100)
        if not ERROR_FIRST:
            QTimer.singleShot(300, fail)
        QTimer.singleShot(800, lambda: check(dialog))
        dialog.exec()
        app.quit()

    if ERROR_FIRST:
        QTimer.singleShot(100, fail)
        QTimer.singleShot(700, ask)         # the notification is shown by then
    else:
        QTimer.singleShot(300, ask)
    QTimer.singleShot(15000, app.quit)
    app.exec()
"""


@pytest.mark.parametrize("error_first", [False, True],
                         ids=["error-in-the-dialog", "dialog-after-the-error"])
def test_notification_over_a_modal_dialog_can_be_dismissed(tmp_path: Path, display: str,
                                                          error_first: bool) -> None:
    """An error raised while a modal dialog is open: the notification is
    placed by the main window, not over the dialog the user types in, and
    its buttons take real clicks (before: placed over the small dialog, on
    top, every click on it dropped by Qt until the dialog closed).  The
    same for a modal dialog opened while the notification shows (before:
    its buttons dead until the dialog closed)."""
    result = _run(MODAL_APP.format(error_first=error_first), tmp_path, display)
    assert result.returncode == 0, result.stderr
    assert "shown: True" in result.stdout, result.stdout + result.stderr
    assert "covers the dialog: False" in result.stdout, result.stdout
    assert "dismissed: True" in result.stdout, result.stdout
    assert "ValueError: rename could not parse" in _log(tmp_path)


# A drag started from a mouse press: X11's drag runs a loop of its own
# (offscreen's returns at once, with none).
DRAG_APP = """
    import sys, time
    import pyqtguard
    pyqtguard.install(freeze_ms=300)
    from PyQt6.QtCore import QMimeData, QPoint, Qt, QTimer
    from PyQt6.QtGui import QDrag
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication, QWidget

    app = QApplication(sys.argv)

    class Source(QWidget):
        def mousePressEvent(self, event):
            drag = QDrag(self)
            data = QMimeData()
            data.setText("row 7")
            drag.setMimeData(data)
            QTimer.singleShot(1000, lambda: print("dragging", flush=True))
            started = time.monotonic()
            drag.exec(Qt.DropAction.CopyAction)
            print(f"drag returned after {time.monotonic() - started:.1f} s", flush=True)

    source = Source()
    source.resize(300, 200)
    source.show()
    QTimer.singleShot(300, lambda: QTest.mousePress(source, Qt.MouseButton.LeftButton,
                                                    pos=QPoint(50, 50)))
    QTimer.singleShot(20000, app.quit)
    app.exec()
"""


def test_ctrl_c_during_an_x11_drag(tmp_path: Path, display: str) -> None:
    """A drag held for a second (X11's own loop turns: no freeze), then
    Ctrl+C: the drag ends and the app closes (SIGINT's status)."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(DRAG_APP))
    with subprocess.Popen([sys.executable, str(script)], cwd=tmp_path,
                          env=_env(tmp_path, display), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "dragging", line + proc.stderr.read()
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode in (-signal.SIGINT, 130), (proc.returncode, stderr)
    assert "drag returned after" in stdout, stdout + stderr
    log = _log(tmp_path)
    assert "SIGINT received: closing the application" in log, log
    assert "GUI freeze" not in log, log
