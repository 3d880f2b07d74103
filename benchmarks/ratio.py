"""The ratio two benchmarks print, with how far it can be trusted.

On a shared or virtual machine one run of the same program can take 30%
more or less than the next; the ratio of two medians then moves by a few
percent from one benchmark run to the next.  So the ratio is printed with
a 95% bootstrap interval (resampling both sets of runs), which says whether
a target is met by the data or only by luck.

    >>> line = ratio_line([10.0, 11.0, 12.0], [10.5, 11.5, 12.5], target=1.05)
    >>> line.startswith("ratio: 1.045")
    True
"""
from __future__ import annotations

import random
import statistics


def median_ratio_interval(plain: list[float], guarded: list[float],
                          resamples: int = 2000, seed: int = 1) -> tuple[float, float]:
    """95% bootstrap interval of median(guarded) / median(plain)."""
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        p = statistics.median(rng.choices(plain, k=len(plain)))
        g = statistics.median(rng.choices(guarded, k=len(guarded)))
        ratios.append(g / p)
    ratios.sort()
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def ratio_line(plain: list[float], guarded: list[float], *, target: float) -> str:
    """``ratio: R (target <= T; 95% interval L-H)``."""
    ratio = statistics.median(guarded) / statistics.median(plain)
    low, high = median_ratio_interval(plain, guarded)
    return f"ratio: {ratio:.3f} (target <= {target:.2f}; 95% interval {low:.3f}-{high:.3f})"
