"""A correctly guarded widgets app with a process pool."""
import multiprocessing
import sys

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QLabel


def thumbnail(n):
    return n * 2


class Window(QLabel):
    def __init__(self):
        super().__init__("ready")
        QTimer.singleShot(0, self.work)

    def work(self):
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            self.setText(str(pool.map(thumbnail, [1, 2, 3])))
        print("thumbnails:", self.text(), flush=True)
        QTimer.singleShot(0, QApplication.instance().quit)


def main():
    app = QApplication(sys.argv)
    window = Window()
    window.show()
    return app.exec()


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
