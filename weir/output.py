"""Printing query results: JSON lines, CSV, or an aligned text table."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import sys
from typing import Any, TextIO

import orjson

from weir.warehouse import QueryResult


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")  # BYTES as BigQuery shows them
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any, width: int = 48) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    text = str(_plain(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def print_result(result: QueryResult, fmt: str = "table", out: TextIO | None = None) -> None:
    out = out or sys.stdout  # at call time: a default of sys.stdout is frozen at import
    if fmt == "json":
        for row in result.rows:
            out.write(orjson.dumps({c: _plain(v) for c, v in zip(result.columns, row, strict=False)}).decode() + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(result.columns)
        for row in result.rows:
            writer.writerow(["" if v is None else _plain(v) for v in row])
        out.write(buf.getvalue())
    else:
        out.write(format_table(result) + "\n")


def format_table(result: QueryResult) -> str:
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=False))
    rule = "  ".join("-" * w for w in widths)
    body = [
        "  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths, strict=False)) for r in cells
    ]
    return "\n".join([line, rule, *body, f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})"])


def _numeric(text: str) -> bool:
    return text.replace(".", "", 1).lstrip("-").isdigit()
