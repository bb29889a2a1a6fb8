"""The one source of truth for table and archive schemas.

Reads the JSON files beside this module as package data (so the same bytes serve the
pipeline on a Dataflow worker, the local warehouse, and Terraform's `file()`).

In: nothing. Out: `TableSpec` records for every table of SPEC section 3, and the Avro
schema of the raw archive record.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Field:
    """One column of a BigQuery table schema."""

    name: str
    type: str
    mode: str
    description: str

    @property
    def repeated(self) -> bool:
        return self.mode == "REPEATED"


@dataclass(frozen=True)
class TableSpec:
    """A table: its columns, the column it is partitioned on (by DAY), clustering, retention."""

    name: str
    fields: tuple[Field, ...]
    partition_field: str
    clustering: tuple[str, ...]
    expiration_days: int
    description: str
    key: tuple[str, ...] = ()
    grain: str | None = None  # "5m" or "1d": a metrics table of that bucket size
    per_event: bool = False  # a row per event (events, dead_letters), not per key and bucket

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no column {name!r}")

    def bigquery_schema_json(self) -> list[dict]:
        return [{"name": f.name, "type": f.type, "mode": f.mode, "description": f.description} for f in self.fields]


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


DEFAULT_DATASET: str = json.loads(_read("tables.json"))["dataset"]  # the dataset's name, decided in tables.json


@functools.cache
def tables() -> dict[str, TableSpec]:
    """All tables of the contract, by name."""
    catalog = json.loads(_read("tables.json"))
    out = {}
    for name, meta in catalog["tables"].items():
        fields = tuple(Field(**f) for f in json.loads(_read(meta["schema"])))
        out[name] = TableSpec(
            name=name,
            fields=fields,
            partition_field=meta["partition_field"],
            clustering=tuple(meta["clustering"]),
            expiration_days=int(meta["expiration_days"]),
            description=meta["description"],
            key=tuple(meta.get("key", ())),
            grain=meta.get("grain"),
            per_event=bool(meta.get("per_event", False)),
        )
    return out


@functools.cache
def settings_tables() -> dict[str, TableSpec]:
    """The tables weir's commands and services write rather than the pipeline: the sites'
    settings (`sites`, read by every mode) and the log of day closes (`day_closes`). Small,
    not partitioned."""
    catalog = json.loads(_read("tables.json"))
    out = {}
    for name, meta in catalog.get("settings", {}).items():
        fields = tuple(Field(**f) for f in json.loads(_read(meta["schema"])))
        out[name] = TableSpec(
            name=name,
            fields=fields,
            partition_field="",
            clustering=(),
            expiration_days=0,
            description=meta["description"],
            key=tuple(meta.get("key", ())),
        )
    return out


def metric_tables(grain: str | None = None) -> tuple[str, ...]:
    """The metrics tables (of one grain, "5m" or "1d", when given), in catalogue order."""
    return tuple(n for n, t in tables().items() if t.grain and (grain is None or t.grain == grain))


def per_event_tables() -> tuple[str, ...]:
    """The tables with a row per event (events, dead_letters)."""
    return tuple(n for n, t in tables().items() if t.per_event)


def table(name: str) -> TableSpec:
    return tables()[name]


VIEWS = ("url_timeseries", "url_benchmarks", "top_urls_today", "referrers_today", "content")


def metric_columns() -> tuple[str, ...]:
    """Every metric column of the metrics tables, in their order (what follows a table's key)."""
    spec = table("url_metrics_5m")
    return tuple(name for name in spec.field_names if name not in spec.key)


def view_sql(name: str, dataset: str, metrics: tuple[str, ...] | None = None) -> str:
    """A view's BigQuery SQL (schemas/views/NAME.sql) with its tables in `dataset` and
    `{metric_columns}` standing for every metric column (`metrics`, default the tables')."""
    columns = ", ".join(metric_columns() if metrics is None else metrics)
    return _read(f"views/{name}.sql").replace("{dataset}", dataset).replace("{metric_columns}", columns)


@functools.cache
def archive_record_schema() -> dict:
    """The Avro schema (a dict, as fastavro takes it) of one raw archive record."""
    return json.loads(_read("archive_record.avsc"))
