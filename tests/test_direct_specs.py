"""The DirectRunner spec cache (pipelines.local.direct_specs) answers what Beam answers, once."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.runners.direct import transform_evaluator as te
from apache_beam.transforms import userstate

from weir.pipelines.local import direct_specs
from weir.transforms.dedupe import _ShardedDedupeFn, _StatefulDedupeFn


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


def test_a_dofn_unpickled_for_every_bundle_hits_the_cache(monkeypatch):
    """The DirectRunner unpickles each DoFn per bundle; a Map's process is then a new
    function object every time. The cache must still hit, and not grow with the bundles."""
    from apache_beam.internal import pickler

    monkeypatch.setattr(direct_specs, "_CACHE", {})
    offset = 3
    template = beam.Map(lambda x: x + offset).dofn  # a closure: pickled by value
    copies = [pickler.loads(pickler.dumps(template)) for _ in range(5)]
    assert len({id(c.process) for c in copies}) == 5
    for fn in copies:
        assert direct_specs._cached_get_dofn_specs(fn) == direct_specs._ORIGINAL(fn)
    assert len(direct_specs._CACHE) == 1
