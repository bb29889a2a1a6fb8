"""Querying the warehouse: the query client every reader shares, and what is built on it.

- `client`: `QueryClient` (plain SQL, and a story's time series against the week before
  through `SeriesQuery`) over either warehouse;
- `plot`: `weir plot`'s charts of such a series.

May import the services (`weir.warehouse`, `weir.config`) and the schemas; never Beam, so
`weir sql` and `weir plot` start in a fraction of a second.
"""
