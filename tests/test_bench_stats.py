"""One percentile rule for every benchmark (weir.bench.stats)."""

import pytest

from weir.bench.stats import percentile


def test_nearest_rank_with_halves_rounded_up():
    assert percentile(list(range(1, 99)), 50) == 50  # rank 48.5 rounds up (round() would give 49)
    values = list(range(1, 101))  # 1..100: rank p% of 99 steps
    assert percentile(values, 95) == 95  # rank 94.05
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100 and percentile(values, 0) == 1
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # any order
    assert percentile([7.0], 95) == 7.0


def test_no_values_is_an_error_not_a_zero():
    with pytest.raises(ValueError):
        percentile([], 50)
