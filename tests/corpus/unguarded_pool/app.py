import multiprocessing


def square(n):
    return n * n


pool = multiprocessing.Pool(2)        # PQG005: every child starts a pool
print(pool.map(square, [1, 2, 3]), flush=True)
pool.close()
