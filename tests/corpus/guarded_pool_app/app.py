"""Guard spelled the other way round, and an executor."""
import multiprocessing as mp
import sys
from concurrent.futures import ProcessPoolExecutor

from PyQt6.QtCore import QCoreApplication


def cube(n):
    return n ** 3


def run():
    app = QCoreApplication(sys.argv)
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        print("cubes:", list(pool.map(cube, [1, 2])), flush=True)
    return 0


if '__main__' == __name__:
    mp.freeze_support()
    sys.exit(run())
