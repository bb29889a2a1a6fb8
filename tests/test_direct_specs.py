"""The DirectRunner spec cache (pipelines.direct_specs) answers what Beam answers, once."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.runners.direct import transform_evaluator as te
from apache_beam.transforms import userstate

from pipelines import direct_specs
from transforms.dedupe import _ShardedDedupeFn, _StatefulDedupeFn


class _Plain(beam.DoFn):
    def process(self, x):
        yield x


def test_cached_specs_equal_beams_and_are_computed_once(monkeypatch):
    monkeypatch.setattr(userstate, "get_dofn_specs", direct_specs._ORIGINAL)
    monkeypatch.setattr(te, "get_dofn_specs", direct_specs._ORIGINAL)
    monkeypatch.setattr(te, "is_stateful_dofn", userstate.is_stateful_dofn)
    monkeypatch.setattr(direct_specs, "_CACHE", {})
    fns = [_StatefulDedupeFn(60), _ShardedDedupeFn(60), _Plain(), beam.Map(len).dofn, beam.Map(str).dofn]
    expected = [direct_specs._ORIGINAL(fn) for fn in fns]
    assert direct_specs.cache_dofn_specs()
    calls = []
    monkeypatch.setattr(direct_specs, "_ORIGINAL", lambda fn: calls.append(fn) or expected[fns.index(fn)])
    for _ in range(3):
        assert [userstate.get_dofn_specs(fn) for fn in fns] == expected
        assert [te.is_stateful_dofn(fn) for fn in fns] == [True, True, False, False, False]
    assert len(calls) == len(fns)  # one inspection per distinct DoFn (Map(len) and Map(str) differ)
