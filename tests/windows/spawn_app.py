# A module with no `if __name__ == "__main__":` that starts a spawn pool, as
# Windows' default start method does: each child re-runs this file.  With
# "guard" in argv, pyqtguard.install() first.  Not a pytest test.
import multiprocessing
import sys

if "guard" in sys.argv:
    import pyqtguard
    pyqtguard.install()

print("main module runs in", multiprocessing.current_process().name, flush=True)
with multiprocessing.get_context("spawn").Pool(1) as pool:
    print("pool says", pool.apply(abs, (-3,)), flush=True)
