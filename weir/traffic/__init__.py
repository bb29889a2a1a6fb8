"""Generated traffic for the demo, tests and benchmarks: `generator` (a news site's day of
events, with hostile and malformed records), `device_mix` (real user agent strings and the
device mix they are drawn from).

May import the transforms (the archive writer) and the schemas.
"""
