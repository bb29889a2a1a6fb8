"""The local streaming job's runtime, in one place: what `weir stream` runs on this machine.

- `stream`: `build_local_stream` (the Pipeline, built and not run) and `run_stream`, the
  supervisor that replays open buckets, runs the pipeline, watches it and stops it;
- `sink`: `LocalStreamSink`, which owns the writer landing rows in the local warehouse;
- `archiver`: every message archived before it is acked, in a process of its own;
- `status`: the status file the supervisor writes and `weir status` reads (no Beam);
- `direct_pubsub`, `direct_specs`: adjustments to the DirectRunner's Pub/Sub read and DoFn
  spec lookups.

It may import the graph (`weir.pipelines.graph`), the transforms, the schemas and the
services (`weir.warehouse`, `weir.pubsub`); the application imports it. This file imports
nothing, so `weir status` can read the status file without loading Beam.
"""
