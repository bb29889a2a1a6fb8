"""BigQuery Standard SQL -> DuckDB SQL (sqlglot), with weir's additions.

- `HLL_COUNT.MERGE/MERGE_PARTIAL/INIT(x)` -> `weir_hll_*(LIST(x))`; `HLL_COUNT.EXTRACT(x)`
  -> `weir_hll_extract(x)` (see weir.warehouse.sqlfuncs).
- `project.dataset.table` -> `dataset.table`: the local file has no projects.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from weir.warehouse.base import QueryError

# BigQuery's TIMESTAMP_DIFF counts whole units elapsed (truncated toward zero); DuckDB's
# date_diff counts unit boundaries crossed (00:55 -> 01:05 is 1 HOUR there, 0 in BigQuery).
_MICROS = {
    "MICROSECOND": 1,
    "MILLISECOND": 1_000,
    "SECOND": 1_000_000,
    "MINUTE": 60_000_000,
    "HOUR": 3_600_000_000,
    "DAY": 86_400_000_000,
}
_AGGREGATES = {"MERGE": "weir_hll_merge", "MERGE_PARTIAL": "weir_hll_merge_partial", "INIT": "weir_hll_init"}


class TranslationError(QueryError):
    """The query is not BigQuery SQL weir can run locally."""


def _timestamp_diff(node: exp.TimestampDiff) -> exp.Expression:
    unit = (node.unit.name if isinstance(node.unit, exp.Expression) else str(node.unit or "")).upper()
    if unit not in _MICROS:
        return node
    end = node.this.transform(_rewrite).sql(dialect="duckdb")
    start = node.expression.transform(_rewrite).sql(dialect="duckdb")
    return sqlglot.parse_one(
        f"CAST(TRUNC((EPOCH_US({end}) - EPOCH_US({start})) / {_MICROS[unit]}.0) AS BIGINT)", read="duckdb"
    )


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.TimestampDiff):
        return _timestamp_diff(node)
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier) and node.this.name.upper() == "HLL_COUNT":
        call = node.expression
        if not isinstance(call, (exp.Anonymous, exp.Func)):
            return node
        name = (call.name if isinstance(call, exp.Anonymous) else call.sql_name()).upper()
        args = list(call.expressions) if isinstance(call, exp.Anonymous) else [call.this, *call.expressions]
        args = [a.transform(_rewrite) for a in args if a is not None]  # nested HLL_COUNT calls
        if name == "EXTRACT":
            return exp.Anonymous(this="weir_hll_extract", expressions=args[:1])
        if name in _AGGREGATES:
            if name == "INIT" and len(args) > 1:
                raise TranslationError("HLL_COUNT.INIT with a precision is not supported locally (precision 15 is)")
            return exp.Anonymous(this=_AGGREGATES[name], expressions=[exp.Anonymous(this="LIST", expressions=args[:1])])
        raise TranslationError(f"HLL_COUNT.{name} is not supported")
    if isinstance(node, exp.Table) and node.args.get("catalog") is not None:
        node = node.copy()
        node.set("catalog", None)
    return node


def translate(sql: str) -> list[tuple[str, frozenset[str], bool]]:
    """BigQuery SQL (one or more statements) -> per statement: (DuckDB SQL, the names of the
    query parameters it uses, whether it only reads: `_only_reads`)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise TranslationError(f"not valid BigQuery SQL: {exc}") from None
    return [
        (
            s.transform(_rewrite).sql(dialect="duckdb"),
            frozenset(p.name for p in s.find_all(exp.Parameter)),
            _only_reads(s),
        )
        for s in statements
    ]


_WRITES = tuple(
    getattr(exp, name)
    for name in ("Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Copy", "Command")
    if hasattr(exp, name)
)


def _only_reads(statement: exp.Expression) -> bool:
    # Anything not known to change data counts as a read here. That is safe locally: unless
    # asked to write, a query runs on a read-only, sandboxed connection, so DuckDB itself
    # refuses whatever this misses (or says what is wrong with a typo sqlglot half-parsed).
    # exp.Command (a verb sqlglot does not model: ATTACH, CALL, ...) counts as a write.
    return not isinstance(statement, _WRITES)


def to_duckdb(sql: str) -> tuple[list[str], bool]:
    """BigQuery SQL (one or more statements) -> (DuckDB statements, whether all only read)."""
    translated = translate(sql)
    return [t[0] for t in translated], all(t[2] for t in translated)
