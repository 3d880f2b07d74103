from concurrent.futures import ProcessPoolExecutor


def square(n):
    return n * n


executor = ProcessPoolExecutor(max_workers=2)   # PQG005
print(list(executor.map(square, [1, 2, 3])), flush=True)
