"""Python's cyclic garbage collector, tuned while a graph runs in this process.

The local runners run every element through Python objects that are freed by reference
counting; the cyclic collector still walks the young generation every 700 allocations and
the old ones after that, and profiles of the rebuild put 15-20% of its time there. While a
graph runs, the collector runs 100x less often (generation 0 at 70,000 allocations) and the
objects alive before the run (imported modules, the graph) are frozen out of its walks.
Cycles are still collected, only later. `WEIR_GC_TUNING=0` runs with Python's defaults (how
docs/performance.md measures the difference).
"""

from __future__ import annotations

import contextlib
import gc
import os

GEN0_THRESHOLD = 70_000


@contextlib.contextmanager
def collector_tuned():
    """Within: a rarer cyclic collector; after: the previous thresholds, nothing frozen."""
    if os.environ.get("WEIR_GC_TUNING", "1") == "0":
        yield
        return
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, previous[1], previous[2])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
