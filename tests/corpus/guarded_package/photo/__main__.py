import multiprocessing
import sys

from PyQt6.QtCore import QCoreApplication

from .workers import resize


def main():
    app = QCoreApplication(sys.argv)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        print("resized:", pool.map(resize, [10]), flush=True)


if __name__ == "__main__":
    multiprocessing.freeze_support()
    main()
