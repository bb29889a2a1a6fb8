"""Batch mode: rebuild the days of an archive, idempotently.

archive files -> the graph (pipelines.graph) -> staged NDJSON per (table, day) ->
`Warehouse.replace_days` after the pipeline succeeded. The days replaced are `--date`, or
every day the input has rows for (events by event time, dead letters by receive time), in
every table; so a rebuild run twice over the same input leaves identical tables.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipelines.graph import GraphConfig, build
from pipelines.options import WeirOptions, validate_rebuild
from transforms.read import ReadArchive
from transforms.sinks import StagedFilesSink, staged_files
from transforms.timeutil import day_to_ms
from weir.warehouse import Warehouse

log = logging.getLogger(__name__)

LOCAL_BATCH_RUNNER = "FnApiRunner"  # named explicitly: the default would try to download Prism


@dataclass
class RebuildResult:
    """What a rebuild did: the days replaced, rows loaded per table, the job's counters."""

    days: list[str]
    loaded: dict[str, int]
    counters: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _runner(options: PipelineOptions):
    name = options.view_as(StandardOptions).runner
    if name in (None, "", "FnApiRunner", "DirectRunner"):
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        return FnApiRunner()
    return name


def counters_of(result) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in result.metrics().query()["counters"]:
        # Runners fill in committed, attempted or both; take whichever is there.
        value = max(int(c.committed or 0), int(c.attempted or 0))
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + value
    return out


def run_rebuild(
    options: PipelineOptions, warehouse: Warehouse, staging_root: str | None = None, progress=print
) -> RebuildResult:
    """Runs the batch graph over `--input` and commits the result to `warehouse`."""
    opts = options.view_as(WeirOptions)
    validate_rebuild(opts)
    started = time.monotonic()
    staging = opts.staging or staging_root
    if not staging:
        raise ValueError("a rebuild needs a staging location (--staging)")
    staging = FileSystems.join(staging, f"run-{uuid.uuid4().hex[:12]}")
    config = GraphConfig(
        days=frozenset([opts.date]) if opts.date else frozenset(),
        fallback_received_ms=day_to_ms(opts.date) if opts.date else 0,
    )
    progress(f"rebuild: reading {', '.join(opts.input)}")
    pipeline = beam.Pipeline(runner=_runner(options), options=options)
    build(pipeline, ReadArchive(opts.input), StagedFilesSink(staging), config)
    result = pipeline.run()
    result.wait_until_finish()
    counters = counters_of(result)
    progress(
        "rebuild: pipeline done: "
        + ", ".join(
            f"{k}={counters.get(k, 0)}" for k in ("records_read", "events_accepted", "dead_letters", "duplicates")
        )
    )
    staged = staged_files(staging)
    days = {opts.date} if opts.date else {d for per_day in staged.values() for d in per_day}
    progress(f"rebuild: replacing {len(days)} day(s) in {warehouse.dataset}: {', '.join(sorted(days)) or '-'}")
    loaded = warehouse.replace_days(staged, days) if days else {}
    _cleanup(staging)
    return RebuildResult(sorted(days), loaded, counters, time.monotonic() - started)


def _cleanup(staging: str) -> None:
    try:
        if staging.startswith("gs://"):
            FileSystems.delete([staging + "/"])
        else:
            shutil.rmtree(staging, ignore_errors=True)
    except Exception as exc:  # the commit succeeded; leftover staging files are only clutter
        log.warning("could not remove staging files %s: %s", staging, exc)
