"""The metric columns of every metrics table, written from the registry (transforms.metrics).

In: the registry's metrics. Out: each `*_metrics_*` schema file's metric columns (name, type,
mode, description), after the table's own key columns, which this module leaves as they are.
The files stay complete JSON because Terraform reads them with `file()` and the `schemas`
layer sits below this one; tests/test_registry.py fails when a file and the registry differ.
After adding a metric to the registry:

    python -m weir.transforms.metric_columns      # rewrites schemas/bigquery/*_metrics_*.json

The views that list every metric (url_timeseries) read the columns from these files.
"""

from __future__ import annotations

import json
import os
import sys

from weir import schemas
from weir.transforms.metrics import METRICS, Metric


def metric_fields(metrics: tuple[Metric, ...] = METRICS) -> list[dict]:
    """The metric columns, in the order every metrics table holds them."""
    out = []
    for m in metrics:
        out.append({"name": m.name, "type": "INT64", "mode": m.mode, "description": m.description})
        if m.sketch_column:
            out.append(
                {"name": m.sketch_column, "type": "BYTES", "mode": "NULLABLE", "description": m.sketch_description}
            )
    return out


def table_fields(table: str, metrics: tuple[Metric, ...] = METRICS) -> list[dict]:
    """A metrics table's whole schema: its key columns as its file has them, then the metrics'."""
    spec = schemas.table(table)
    return [f for f in spec.bigquery_schema_json() if f["name"] in spec.key] + metric_fields(metrics)


def metrics_tables() -> list[str]:
    return sorted(name for name, spec in schemas.tables().items() if spec.grain is not None)


def write(folder: str, metrics: tuple[Metric, ...] = METRICS) -> list[str]:
    """Rewrites each metrics table's schema file under `folder`; returns the files changed."""
    changed = []
    for table in metrics_tables():
        path = os.path.join(folder, "bigquery", f"{table}.json")
        text = json.dumps(table_fields(table, metrics), indent=2, ensure_ascii=False) + "\n"
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                continue
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        changed.append(path)
    return changed


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "schemas")
    for path in write(root):
        print(f"rewrote {path}")
