import multiprocessing as mp
import sys

from viewer.render import render        # PQG007: the child imports this to unpickle render

ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else "spawn")
worker = ctx.Process(target=render, args=("page-1",))
worker.start()    # a package's __main__ is not re-run in children: no finding here
worker.join()
print("exit code", worker.exitcode, flush=True)
