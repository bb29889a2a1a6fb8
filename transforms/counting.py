"""weir's counters: a Beam metric plus an in-process tally.

Beam metrics are what Dataflow shows and what batch runs report. But the streaming
DirectRunner keeps only the latest bundle's value of a counter (measured on Beam 2.77: 50
increments over five bundles read back as 10), so `weir stream`, which runs the pipeline
in its own process, reads the in-process tally instead (`local_counts`).
"""

from __future__ import annotations

import threading
from collections import Counter as _Tally

from apache_beam.metrics import Metrics

NAMESPACE = "weir"
_TALLY: _Tally = _Tally()
_GAUGES: dict[str, int] = {}
_LOCK = threading.Lock()


class WeirCounter:
    """Counts one thing; picklable, so DoFns hold it like a Beam counter."""

    def __init__(self, name: str):
        self.name = name
        self._metric = Metrics.counter(NAMESPACE, name)

    def inc(self, n: int = 1) -> None:
        self._metric.inc(n)
        with _LOCK:
            _TALLY[self.name] += n


def counter(name: str) -> WeirCounter:
    return WeirCounter(name)


class WeirGauge:
    """The latest value of one thing (a Beam gauge plus the in-process value)."""

    def __init__(self, name: str):
        self.name = name
        self._metric = Metrics.gauge(NAMESPACE, name)

    def set(self, value: int) -> None:
        self._metric.set(value)
        with _LOCK:
            _GAUGES[self.name] = value


def gauge(name: str) -> WeirGauge:
    return WeirGauge(name)


def local_gauges() -> dict[str, int]:
    """Latest gauge values set in this process."""
    with _LOCK:
        return dict(_GAUGES)


def local_counts() -> dict[str, int]:
    """Counts made in this process since it started (or since `reset_local_counts`)."""
    with _LOCK:
        return dict(_TALLY)


def reset_local_counts() -> None:
    with _LOCK:
        _TALLY.clear()
        _GAUGES.clear()
