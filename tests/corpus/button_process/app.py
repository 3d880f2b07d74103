import multiprocessing as mp
import sys
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QPushButton


def export(path):
    print("exporting", path, flush=True)


def start_export():
    mp.Process(target=export, args=("out.csv",)).start()


app = QApplication(sys.argv)          # PQG001
button = QPushButton("Export")
button.clicked.connect(start_export)
button.show()                         # PQG003
QTimer.singleShot(100, button.click)  # PQG004
QTimer.singleShot(5000, app.quit)     # PQG004
app.exec()                            # PQG002
