"""Sketches: BigQuery-format HLL++ that merge exactly, and the local SQL functions over them."""

from __future__ import annotations

import pickle

from weir.transforms import sketches
from weir.transforms.sketches import estimate, merge_bytes, sketch_of
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
    assert hll_extract(None) == 0  # "If sketch is NULL, this function returns a cardinality estimate of 0"
    # The format records how many values were added, so compare with the same multiset.
    assert hll_init(["1", "2", None, "2"], "BIGINT", 15, True) == sketch_of([1, 2, 2])
    assert sketch_of([]) is None


def test_row_keys_become_a_sketch_past_the_limit_and_merge_the_same_either_way(monkeypatch):
    monkeypatch.setattr(sketches, "EXACT_LIMIT", 50)
    keys = list(range(1000, 1300))
    small, big = None, None
    for k in keys[:40]:
        small = sketches.add_key(small, k)
    for k in keys[40:]:
        big = sketches.add_key(big, k)
    assert type(big) is set  # additions alone never convert: the limit applies where rows merge
    big = sketches.union(None, big)
    assert type(small) is set and type(big) is sketches.Sketch  # the second crossed the limit
    assert pickle.loads(pickle.dumps(big)).hll.to_bytes() == big.hll.to_bytes()
    expected = sketch_of(keys)
    for a, b in ((small, big), (big, small)):  # disjoint keys: the very same sketch
        assert sketches.finished(sketches.union(sketches.union(None, a), b)).to_bytes() == expected
    twice = sketches.finished(sketches.union(sketches.union(None, big), big)).to_bytes()
    assert estimate(twice) == estimate(sketch_of(keys[40:]))  # a key seen twice counts once
    # never aliased: the inputs of a union are unchanged
    assert len(small) == 40 and sketches.union(None, small) is not small
    assert sketches.finished(big).to_bytes() == sketch_of(keys[40:])


def test_finished_set_equals_sketch_of_its_keys():
    keys = {7, -3, 2**62, 11}
    assert sketches.finished(keys).to_bytes() == sketch_of(sorted(keys))
    assert sketches.finished(None) is None
