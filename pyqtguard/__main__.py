"""``python -m pyqtguard ...``: see :mod:`pyqtguard.cli`."""
import sys

from pyqtguard.cli import main

if __name__ == "__main__":
    sys.exit(main())
