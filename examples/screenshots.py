"""Render pyqtguard's two dialogs offscreen to PNGs under docs/images/.

    QT_QPA_PLATFORM=offscreen python examples/screenshots.py [--out DIR]

The error notification (three exceptions folded into one, details shown)
and the crashed-last-time dialog for a crash made on purpose in a child
process.  Everything runs in a temporary log folder.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"

CRASHING_APP = textwrap.dedent("""
    import ctypes, threading, pyqtguard
    pyqtguard.install(app_name="photo-editor")

    def decode_tile(data):
        return ctypes.string_at(0)          # a bug in a C extension, say

    t = threading.Thread(target=decode_tile, args=(b"",), name="tile-decoder-3")
    t.start(); t.join()
""")


def make_crash(log_dir: str) -> None:
    env = dict(os.environ, PYQTGUARD_LOG_DIR=log_dir, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder, "editor.py")
        script.write_text(CRASHING_APP)
        subprocess.run([sys.executable, str(script)], env=env, capture_output=True, timeout=60)


def main() -> None:
    global IMAGES
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder for the PNGs")
    IMAGES = parser.parse_args().out
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    log_dir = tempfile.mkdtemp(prefix="pyqtguard-shots-")
    os.environ["PYQTGUARD_LOG_DIR"] = log_dir
    make_crash(log_dir)

    import pyqtguard

    pyqtguard.install(app_name="photo-editor", repeat_interval=0,
                      app_version="2.5.0",
                      report_to=["https://0123abcd@o1.ingest.sentry.io/42",
                                 "https://github.com/example/photo-editor"])
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from pyqtguard.dialogs import notification

    app = QApplication(sys.argv)
    app.setStyle("Fusion")
    pyqtguard.show_error_notifications()   # install(dialogs=True) would also offer the crash
    IMAGES.mkdir(parents=True, exist_ok=True)

    def load_thumbnail(path: str) -> None:
        raise FileNotFoundError(2, "No such file or directory", path)

    def fail(n: int) -> None:
        import threading

        target = load_thumbnail if n < 2 else (lambda p: int(p))
        threading.Thread(target=target, args=("holiday/IMG_0042.jpg",),
                         name="thumbnailer-1").start()

    def shoot_notification() -> None:
        widget = notification.notifier().widget
        widget.grab().save(str(IMAGES / "error-notification.png"))
        widget.toggle.setChecked(True)
        widget.resize(620, 460)
        widget.grab().save(str(IMAGES / "error-notification-details.png"))
        widget.hide()
        dialog = pyqtguard.offer_last_crash()
        if dialog is None:
            print("no crash to offer", file=sys.stderr)
            app.exit(1)
            return
        dialog.resize(760, 560)
        QTimer.singleShot(200, lambda: shoot_crash(dialog))

    def shoot_crash(dialog: object) -> None:
        dialog.grab().save(str(IMAGES / "crashed-last-time.png"))  # type: ignore[attr-defined]
        print("wrote", *sorted(p.name for p in IMAGES.glob("*.png")))
        app.quit()

    for n in range(3):
        QTimer.singleShot(50 + 20 * n, lambda n=n: fail(n))
    QTimer.singleShot(1000, shoot_notification)
    app.exec()


if __name__ == "__main__":
    main()
