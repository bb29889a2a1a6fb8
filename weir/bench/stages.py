"""`python -m weir.bench.stages FILE`: a rebuild's per-event work, stage by stage, without Beam.

JSON lines in (a generated day: `weir.traffic.generator`); one line per stage out, in us
of wall time per input record. Each stage runs weir's own functions over the whole day in
one plain loop, in the order the graph applies them (read, parse and validate, the dedupe's
partitioning and first copies, enrichment, event rows and their Arrow tables, the
aggregation's contributions, their expansion into rows, the rows' formatting), with the
cyclic collector off so that what is timed is the work (how much of the
rebuild's budget each part needs, against the floor of `weir.bench.run`). Beam's runner,
the staged files and the warehouse commit are not in it; their share is the difference to
the bench's rebuild.
"""

from __future__ import annotations

import gc
import sys
import time
from contextlib import contextmanager

from weir.transforms.aggregate import CombineBatch, ExpandContributions, ExpandDay, FormatRows, by_day
from weir.transforms.batches import BATCH_SIZE
from weir.transforms.dedupe import _by_partition, _EmitFirstCopies
from weir.transforms.enrich import enrich_event
from weir.transforms.read import read_json_lines
from weir.transforms.rows import event_row
from weir.transforms.sinks import arrow_schema
from weir.transforms.validate import parse_record


def _chunks(items: list):
    for start in range(0, len(items), BATCH_SIZE):
        yield items[start : start + BATCH_SIZE]


def _values(outputs) -> list:
    """The main output of a DoFn's process: its plain (untagged) values."""
    return [getattr(out, "value", out) for out in outputs if not hasattr(out, "tag")]


def measure_stages(path: str) -> dict:
    """{"records", "events", "metric_rows", "us_per_record": {stage: us}} for the file."""
    import pyarrow as pa

    seconds: dict[str, float] = {}

    @contextmanager
    def stage(name: str):
        started = time.perf_counter()
        yield
        seconds[name] = time.perf_counter() - started

    enabled = gc.isenabled()
    gc.disable()
    try:
        with stage("read"), open(path, "rb") as fh:
            records = list(read_json_lines(path, fh))
        with stage("parse"):
            events = [value for kind, value in map(parse_record, records) if kind == "event"]
        with stage("dedupe_partition"):
            parts: dict[int, list] = {}
            for batch in _chunks(events):
                for part, blob in _by_partition(batch):
                    parts.setdefault(part, []).append(blob)
        with stage("dedupe_first_copies"):
            first = _EmitFirstCopies()
            kept = [e for item in parts.items() for batch in _values(first.process(item)) for e in batch]
        with stage("enrich"):
            enriched = [enrich_event(e) for e in kept]
        with stage("event_rows"):
            rows = [event_row(e) for e in enriched]
        with stage("event_arrow"):
            schema = arrow_schema("events")
            for batch in _chunks(rows):
                pa.Table.from_pylist(batch, schema=schema)
        with stage("contributions"):
            combine, days = CombineBatch(), {}
            combine.setup()
            for batch in _chunks(enriched):
                for keyed in combine.process(batch):
                    day, part = by_day(keyed.value)
                    days.setdefault(day, []).append(part)
        with stage("expand"):
            expand_day = ExpandDay(ExpandContributions(), daily=True)
            groups = [out for item in days.items() for out in expand_day.process(item)]
        with stage("format"):
            formats, metric_rows = {"5m": FormatRows("5m"), "1d": FormatRows("1d")}, 0
            for group in groups:
                metric_rows += sum(len(b.value) for b in formats[group.tag].process(group.value))
    finally:
        if enabled:
            gc.enable()
    n = len(records)
    return {
        "records": n,
        "events": len(enriched),
        "metric_rows": metric_rows,
        "us_per_record": {name: 1e6 * s / n for name, s in seconds.items()},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m weir.bench.stages FILE.jsonl", file=sys.stderr)
        return 2
    out = measure_stages(argv[0])
    total = sum(out["us_per_record"].values())
    print(f"records={out['records']} events={out['events']} metric_rows={out['metric_rows']} total_us={total:.1f}")
    for name, us in out["us_per_record"].items():
        print(f"  {name:20s} {us:6.1f} us/record")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
