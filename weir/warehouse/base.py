"""The warehouse interface the commands use: create tables, commit a rebuild, run SQL."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from weir import schemas
from weir.usage import UsageError


class QueryError(UsageError):
    """A query the warehouse refused or could not run; the message says why."""


def is_missing_table(exc: Exception, table: str) -> bool:
    """Whether a QueryError says `table` does not exist (a dataset made before the table was)."""
    text = str(exc)
    return isinstance(exc, QueryError) and table in text and ("does not exist" in text or "Not found" in text)


class WriteRefused(QueryError):
    """A statement that changes data, sent without `write=True` (`weir sql --write`)."""


@dataclass(frozen=True)
class QueryResult:
    """Rows of a query: column names and tuples of Python values."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]


class Warehouse(abc.ABC):
    """Tables of SPEC section 3 in one dataset, and BigQuery Standard SQL over them."""

    dataset: str
    staging_format: str = "ndjson"  # what a rebuild stages for replace_days (transforms.sinks.FORMATS)

    @abc.abstractmethod
    def ensure_tables(self) -> None:
        """Creates the dataset and every table from `schemas/` where missing; adds new columns."""

    @abc.abstractmethod
    def replace_parts(self, staged: dict[str, dict[str, list[str]]], parts: list) -> dict[str, int]:
        """Makes each table's rows in `parts` (weir.warehouse.scope: each site's local day)
        exactly the staged rows, in one step per table (locally one transaction for all).

        `staged` is {table: {partition day: [file paths]}} in `staging_format` (see
        `transforms.sinks.staged_files`), every row of it inside `parts` (the rebuild's scope
        made sure); rows in `parts` with nothing staged are deleted. Returns the rows loaded
        per table. Running it twice with the same files leaves the same tables.
        """

    @abc.abstractmethod
    def query(self, sql: str, params: dict | None = None, write: bool = False) -> QueryResult:
        """Runs BigQuery Standard SQL; unqualified names resolve in the dataset.

        `params` binds named query parameters (`@name`; types in weir.warehouse.params): every
        value from a user reaches SQL this way. Without `write`, a statement that changes
        data is refused (`WriteRefused`) before anything runs, and locally the query cannot
        touch any file but the warehouse's own (DuckDB's external access is off)."""

    def tables(self) -> tuple[str, ...]:
        return tuple(schemas.tables())
