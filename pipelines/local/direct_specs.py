"""Cached DoFn state/timer specs for Beam's streaming DirectRunner (local streaming only).

The DirectRunner asks `userstate.get_dofn_specs` (through `is_stateful_dofn` too) for every
ParDo on every bundle, and each answer inspects the signatures of every method of the DoFn.
py-spy on `weir stream` at 2,000 events/s: ~20% of the process's CPU. The specs are fixed by
the DoFn's class and its process function (state and timer parameters are declared in
method defaults), so `cache_dofn_specs` memoizes them by that pair. The pair is taken by
code, not by object: the DirectRunner unpickles a fresh DoFn for every bundle, and a
`beam.Map`'s process is the wrapped function itself (a new object each time), which made
every bundle miss and the cache grow with the run. Beam is pinned
(setup.py); the patch checks that the functions are the ones it wraps and otherwise
leaves Beam alone and says so.
"""

from __future__ import annotations

import logging

from apache_beam.runners.direct import transform_evaluator as te
from apache_beam.transforms import userstate

log = logging.getLogger(__name__)
_ORIGINAL = userstate.get_dofn_specs
_CACHE: dict = {}


def _cached_get_dofn_specs(dofn):
    process = getattr(dofn, "process", None)
    process = getattr(process, "__func__", process)
    key = (type(dofn), getattr(process, "__code__", process))
    specs = _CACHE.get(key)
    if specs is None:
        specs = _CACHE[key] = _ORIGINAL(dofn)
    return specs


def _cached_is_stateful_dofn(dofn) -> bool:
    state_specs, timer_specs = _cached_get_dofn_specs(dofn)
    return bool(state_specs or timer_specs)


def cache_dofn_specs() -> bool:
    """Installs the cache; False (and a warning) if Beam's functions are not the known ones."""
    if userstate.get_dofn_specs is _cached_get_dofn_specs:
        return True
    if te.get_dofn_specs is not _ORIGINAL or te.is_stateful_dofn is not userstate.is_stateful_dofn:
        log.warning("Beam's DirectRunner spec lookups are not the ones weir knows; leaving them uncached")
        return False
    userstate.get_dofn_specs = _cached_get_dofn_specs
    te.get_dofn_specs = _cached_get_dofn_specs
    te.is_stateful_dofn = _cached_is_stateful_dofn
    return True
