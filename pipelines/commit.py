"""The rebuild's commit as the last step of the job itself (Dataflow, Flex Templates).

    every staged-file write --(all done)--> CommitStagedDays: Warehouse.replace_parts

Locally the launching process commits after the pipeline finished (pipelines.rebuild).
A Flex Template launcher only submits the job and exits, so on Dataflow the job commits:
one step, run once, after every table's files are staged (it takes the count of all
written files as a side input, which exists only when every write finished). It lists
what the run staged, replaces each site's day (`--date`, or every day the staged ledger
holds) in one `replace_parts` call (a DELETE and INSERT per table in one transaction on
BigQuery, so a retried step gives the same tables), and counts the rows per table
(`rows_committed_<table>`).
"""

from __future__ import annotations

import logging

import apache_beam as beam

from weir.transforms.counting import counter
from weir.transforms.sinks import staged_files, staged_records
from weir.transforms.sitetime import DayScope, SiteZones
from weir.warehouse import WarehouseRef
from weir.warehouse.scope import Part, days_of, parts_of_day, parts_of_site_days


def parts_to_replace(date: str | None, zone: str | None, zones: SiteZones, staged: dict) -> list[Part]:
    """What a rebuild replaces: with `date`, that day of every site (of `zone`'s sites only,
    with `zone`), each in its own zone; without, exactly the (site, day) pairs the staged
    ledger holds, which are every day the input has a record of."""
    if date:
        return parts_of_day(DayScope(date, zone), zones)
    pairs = staged_records([p for paths in staged.get("ledger", {}).values() for p in paths], ("site", "day"))
    return parts_of_site_days({(site, str(day)) for site, day in pairs}, zones)


log = logging.getLogger(__name__)


class _Commit(beam.DoFn):
    def __init__(self, ref: WarehouseRef, staging: str, date: str | None, zone: str | None, zones: SiteZones):
        self._ref, self._staging, self._date, self._zone, self._zones = ref, staging, date, zone, zones

    def process(self, _unused, files_written: int):
        staged = staged_files(self._staging)
        parts = parts_to_replace(self._date, self._zone, self._zones, staged)
        days = days_of(parts)
        if not parts:
            log.warning("rebuild staged no rows (%d files): nothing to commit", files_written)
            return
        loaded = self._ref.open().replace_parts(staged, parts)
        log.info("rebuild committed %s to %s: %s", days, self._ref.dataset, loaded)
        for table, rows in loaded.items():
            counter(f"rows_committed_{table}").inc(rows)
        counter("days_committed").inc(len(days))
        yield from sorted(days)


class CommitStagedDays(beam.PTransform):
    """Takes the pipeline root; `written` is every table's WriteToFiles output. Produces the
    committed days (PCollection[str])."""

    def __init__(
        self,
        ref: WarehouseRef,
        staging: str,
        date: str | None,
        written: list,
        zone: str | None = None,
        zones: SiteZones | None = None,
    ):
        super().__init__()
        self._ref, self._staging, self._date, self._written = ref, staging, date, written
        self._zone, self._zones = zone, zones or SiteZones()

    def expand(self, root):
        done = (
            tuple(self._written) | "AllStagedFiles" >> beam.Flatten() | "CountStaged" >> beam.combiners.Count.Globally()
        )
        return (
            root
            | "Once" >> beam.Create([None])
            | "ReplaceDays"
            >> beam.ParDo(
                _Commit(self._ref, self._staging, self._date, self._zone, self._zones), beam.pvalue.AsSingleton(done)
            )
        )
