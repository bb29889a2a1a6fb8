"""The rebuild's commit as the last step of the job itself (Dataflow, Flex Templates).

    every staged-file write --(all done)--> CommitStagedDays: Warehouse.replace_days

Locally the launching process commits after the pipeline finished (pipelines.rebuild).
A Flex Template launcher only submits the job and exits, so on Dataflow the job commits:
one step, run once, after every table's files are staged (it takes the count of all
written files as a side input, which exists only when every write finished). It lists
what the run staged, replaces the days (`--date`, or every staged day) in one
`replace_days` call (a WRITE_TRUNCATE load per partition on BigQuery, so a retried step
gives the same tables), and counts the rows per table (`rows_committed_<table>`).
"""

from __future__ import annotations

import logging

import apache_beam as beam

from weir.transforms.counting import counter
from weir.transforms.sinks import staged_files
from weir.warehouse import WarehouseRef

log = logging.getLogger(__name__)


class _Commit(beam.DoFn):
    def __init__(self, ref: WarehouseRef, staging: str, date: str | None):
        self._ref, self._staging, self._date = ref, staging, date

    def process(self, _unused, files_written: int):
        staged = staged_files(self._staging)
        days = {self._date} if self._date else {d for per_day in staged.values() for d in per_day}
        if not days:
            log.warning("rebuild staged no rows (%d files): nothing to commit", files_written)
            return
        loaded = self._ref.open().replace_days(staged, days)
        log.info("rebuild committed %s to %s: %s", sorted(days), self._ref.dataset, loaded)
        for table, rows in loaded.items():
            counter(f"rows_committed_{table}").inc(rows)
        counter("days_committed").inc(len(days))
        yield from sorted(days)


class CommitStagedDays(beam.PTransform):
    """Takes the pipeline root; `written` is every table's WriteToFiles output. Produces the
    committed days (PCollection[str])."""

    def __init__(self, ref: WarehouseRef, staging: str, date: str | None, written: list):
        super().__init__()
        self._ref, self._staging, self._date, self._written = ref, staging, date, written

    def expand(self, root):
        done = (
            tuple(self._written) | "AllStagedFiles" >> beam.Flatten() | "CountStaged" >> beam.combiners.Count.Globally()
        )
        return (
            root
            | "Once" >> beam.Create([None])
            | "ReplaceDays" >> beam.ParDo(_Commit(self._ref, self._staging, self._date), beam.pvalue.AsSingleton(done))
        )
