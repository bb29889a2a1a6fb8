"""Percentiles, decided once for every benchmark: the nearest rank, halves rounded up."""

from __future__ import annotations


def percentile(values: list[float], p: float) -> float:
    """The value at rank p% of `values` (any order): sorted[round_half_up(p/100 * (n-1))].
    Raises ValueError on no values."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * (len(ordered) - 1) + 0.5))]
