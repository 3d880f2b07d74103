import sys
from PyQt6.QtWidgets import QApplication

app = QApplication(sys.argv)          # at import time of this module


def compute(n):
    return n + 1
