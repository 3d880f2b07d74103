"""Hash every file of a folder on worker threads: one progress bar and one
cancel button per file, and a window that can be closed at any moment.

    python examples/hash_files_app.py [FOLDER]
    QT_QPA_PLATFORM=offscreen python examples/hash_files_app.py --auto FOLDER

It shows the safe patterns through pyqtguard's API: work off the GUI thread
(``workers.Worker`` with a generator that yields its progress), results and
errors back in the GUI thread, cooperative cancellation (a cancel button;
the generator stops at its next ``yield``), and a close that cancels every
worker and waits with a timeout (``workers.ShutdownOnClose``).
"""
from __future__ import annotations

import hashlib
import os
import sys

import pyqtguard

pyqtguard.install(app_name="hash-files-example")

from PyQt6.QtCore import QTimer  # noqa: E402 - after install on purpose
from PyQt6.QtWidgets import (  # noqa: E402
    QApplication,
    QGridLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QWidget,
)

from pyqtguard import workers  # noqa: E402

CHUNK = 256 * 1024


def hash_file(path: str):
    """A generator: yields percent done, returns the hex digest."""
    size = max(1, os.path.getsize(path))
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            yield done * 100 // size
    return digest.hexdigest()


class HashWindow(workers.ShutdownOnClose, QMainWindow):
    shutdown_timeout = 3.0

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.setWindowTitle(f"Hashing {folder}")
        grid = QGridLayout()
        central = QWidget()
        central.setLayout(grid)
        self.setCentralWidget(central)
        self.workers: dict[str, workers.Worker] = {}
        names = sorted(n for n in os.listdir(folder)
                       if os.path.isfile(os.path.join(folder, n)))
        for row, name in enumerate(names):
            bar = QProgressBar()
            status = QLabel("queued")
            cancel = QPushButton("Cancel")
            grid.addWidget(QLabel(name), row, 0)
            grid.addWidget(bar, row, 1)
            grid.addWidget(status, row, 2)
            grid.addWidget(cancel, row, 3)
            worker = workers.Worker(hash_file, os.path.join(folder, name), name=f"hash:{name}")
            worker.yielded.connect(bar.setValue)
            worker.returned.connect(lambda digest, n=name, s=status: self.hashed(n, digest, s))
            worker.errored.connect(lambda exc, n=name, s=status: self.failed(n, exc, s))
            worker.cancelled.connect(lambda n=name, s=status: self.cancelled(n, s))
            cancel.clicked.connect(worker.cancel)
            self.workers[name] = worker.start()

    def hashed(self, name: str, digest: str, status: QLabel) -> None:
        status.setText(digest[:12])
        print(f"sha256 {name} {digest}", flush=True)

    def failed(self, name: str, exc: BaseException, status: QLabel) -> None:
        status.setText(f"error: {exc}")
        print(f"error {name} {type(exc).__name__}", flush=True)

    def cancelled(self, name: str, status: QLabel) -> None:
        status.setText("cancelled")
        print(f"cancelled {name}", flush=True)


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--auto"]
    folder = args[0] if args else os.getcwd()
    app = QApplication(sys.argv)
    window = HashWindow(folder)
    window.show()
    if "--auto" in sys.argv:
        # Cancel the biggest file at once, close the window while others run.
        biggest = max(window.workers, key=lambda n: os.path.getsize(os.path.join(folder, n)))
        QTimer.singleShot(0, window.workers[biggest].cancel)
        QTimer.singleShot(1500, window.close)
        QTimer.singleShot(1600, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
