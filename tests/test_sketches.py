"""Sketches: BigQuery-format HLL++ that merge exactly, and the local SQL functions over them."""

from __future__ import annotations

from transforms.sketches import estimate, merge_bytes, sketch_of
from weir.warehouse.sqlfuncs import hll_extract, hll_init, hll_merge, hll_merge_partial


def test_merged_parts_equal_sketch_of_whole():
    keys = list(range(-5000, 5000, 3))
    parts = [sketch_of(keys[i::7]) for i in range(7)]
    whole = sketch_of(keys)
    assert merge_bytes(parts).to_bytes() == whole  # byte for byte, whatever the split
    assert merge_bytes(reversed(parts)).to_bytes() == whole


def test_estimates_are_close_and_exact_when_small():
    assert estimate(sketch_of(range(100))) == 100
    big = estimate(sketch_of(range(200_000)))
    assert abs(big - 200_000) / 200_000 < 0.02  # precision 15: ~0.6% standard error


def test_sql_functions_follow_bigquery_null_rules():
    a, b = sketch_of([1, 2, 3]), sketch_of([3, 4])
    assert hll_merge([a, None, b]) == 4
    assert hll_merge([]) == 0 and hll_merge(None) == 0
    assert hll_merge_partial([]) is None
    assert hll_extract(hll_merge_partial([a, b])) == 4
    assert hll_extract(None) is None
    # The format records how many values were added, so compare with the same multiset.
    assert hll_init([1, 2, None, 2]) == sketch_of([1, 2, 2])
    assert sketch_of([]) is None
