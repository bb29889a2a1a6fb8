"""Benchmarks that print figures (docs/performance.md): `run` (`weir bench`: the rebuild,
enrichment, the stream's freshness, `weir sql` cold start), `freshness` (how soon a
published event is counted), `collector` (`weir bench-collect`), `stats` (percentiles).

The application layer: may import everything below it.
"""
