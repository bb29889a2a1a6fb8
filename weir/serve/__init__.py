"""`weir serve`: the stats API over the query client.

`app.py` builds the Starlette application: JSON (or CSV) answers to the newsroom's
questions, every parameter checked before it reaches the query client, which passes values
to SQL only as query parameters. The application layer: may import weir.query, weir.console
and the services; never Beam.
"""
