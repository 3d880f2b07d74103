import multiprocessing as mp

if __name__ == "__main__":
    mp.freeze_support()
    import gui                          # PQG007: gui builds a QApplication at import
    with mp.get_context("spawn").Pool(1) as pool:
        print(pool.map(gui.compute, [1]), flush=True)
