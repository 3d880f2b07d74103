import sys
import multiprocessing as mp
from PyQt6.QtWidgets import QApplication, QLabel


def render(n):
    return n * n


app = QApplication(sys.argv)          # PQG001: re-runs in every child
label = QLabel("hello")
label.show()                          # PQG003
if __name__ == "__main__":
    mp.freeze_support()
    with mp.Pool(2) as pool:
        print(pool.map(render, [1, 2, 3]), flush=True)
