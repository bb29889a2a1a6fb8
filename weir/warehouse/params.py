"""What user input may reach SQL, and how: values only as query parameters,
names only after validation against what BigQuery allows.

Query parameters use BigQuery's named form (`@day`) in the SQL; `Warehouse.query(sql,
params)` binds them: BigQuery as typed `ScalarQueryParameter`/`ArrayQueryParameter`s,
DuckDB as `$day` (sqlglot translates the name). A value's Python type chooses the SQL type:
str STRING, bool BOOL, int INT64, float FLOAT64, datetime.date DATE, datetime.datetime
TIMESTAMP (aware, or taken as UTC), a list or tuple of str ARRAY<STRING>.
"""

from __future__ import annotations

import datetime as dt
import re

from weir.usage import UsageError

# BigQuery's own rules: dataset ids are letters, digits and underscores (at most 1,024);
# project ids 6-30 lower-case letters, digits and hyphens, optionally domain-scoped.
_DATASET = re.compile(r"[A-Za-z0-9_]{1,1024}")
_PROJECT = re.compile(r"(?:[a-z][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")


def dataset_id(name: str) -> str:
    """`name` if it is a valid dataset id; ValueError saying why not."""
    if not isinstance(name, str) or not _DATASET.fullmatch(name):
        raise UsageError(f"dataset {name!r} is not a dataset id (letters, digits and underscores only)")
    return name


def project_id(name: str) -> str:
    """`name` if it is a valid Google Cloud project id; ValueError saying why not."""
    if not isinstance(name, str) or not _PROJECT.fullmatch(name):
        raise UsageError(f"project {name!r} is not a project id (6-30 lower-case letters, digits and hyphens)")
    return name


def day(text: str) -> dt.date:
    """A YYYY-MM-DD string -> date; ValueError with what was wrong."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or ""):
            raise UsageError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"date {text!r} is not a day as YYYY-MM-DD (for example 2026-11-30)") from None


def bigquery_parameters(params: dict) -> list:
    """params -> the BigQuery client's query parameters."""
    from google.cloud import bigquery

    out: list[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter] = []
    for name, value in params.items():
        if isinstance(value, (list, tuple)):
            out.append(bigquery.ArrayQueryParameter(name, "STRING", [str(v) for v in value]))
        else:
            out.append(bigquery.ScalarQueryParameter(name, _bigquery_type(value), value))
    return out


def _bigquery_type(value) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, str):
        return "STRING"
    raise TypeError(f"query parameter of type {type(value).__name__} is not supported")


def duckdb_parameters(params: dict) -> dict:
    """params -> DuckDB's named parameters (aware datetimes in UTC, lists as lists)."""
    out = {}
    for name, value in params.items():
        if not isinstance(value, (list, tuple)):
            _bigquery_type(value)  # the same kinds as BigQuery: TypeError for any other
        if isinstance(value, dt.datetime):
            value = (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out
