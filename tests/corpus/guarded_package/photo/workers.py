def resize(n):
    return n // 2
