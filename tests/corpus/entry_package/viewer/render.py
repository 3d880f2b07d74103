import sys
from PyQt6.QtWidgets import QApplication

app = QApplication.instance() or QApplication(sys.argv)   # PQG001 at import time


def render(name):
    print("rendered", name, flush=True)
