"""Checks a user runs to trust the numbers: `verify` (a day's invariants), `compare` (two
datasets, row for row) and `status` (is the stream keeping up).

May import the services, the schemas and the local stream's status file
(`weir.pipelines.local.status`); never Beam.
"""
