import sys
from PyQt6.QtCore import QCoreApplication

app = QCoreApplication(sys.argv)  # noqa: PQG001 - this script is never a spawn parent
