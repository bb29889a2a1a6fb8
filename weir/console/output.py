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


def plain(value: Any) -> Any:
    """A value as JSON carries it: BYTES as base64, times as ISO 8601 (UTC), NUMERIC as text."""
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
        return [plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    """A value as the table shows it: NULL, true/false, integers with thousands separators."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, list):
        return orjson.dumps(plain(value)).decode()
    return str(plain(value))


def _csv_value(value: Any) -> Any:
    """As BigQuery's CSV export writes it: booleans true/false, arrays as JSON text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return orjson.dumps(plain(value)).decode()
    return plain(value)


def _shorten(text: str, width: int) -> str:
    """The middle of a long value gives way (URLs differ at their ends)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def _fit(cells: list[list[str]], columns: list[str], total: int) -> list[list[str]]:
    """Shortens the widest columns until a row fits in `total` characters, but never so far
    that two different values of a column would look the same."""
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    fixed: set[int] = set()
    while sum(widths) + 2 * (len(widths) - 1) > total:
        candidates = [i for i in range(len(widths)) if i not in fixed and widths[i] > max(12, len(columns[i]))]
        if not candidates:
            break
        i = max(candidates, key=lambda k: widths[k])
        target = max(12, len(columns[i]), widths[i] - (sum(widths) + 2 * (len(widths) - 1) - total))
        values = {r[i] for r in cells}
        if len({_shorten(v, target) for v in values}) < len(values):
            fixed.add(i)  # shortening would make two values alike: this column stays whole
            continue
        widths[i] = target
    return [[_shorten(v, widths[i]) for i, v in enumerate(r)] for r in cells]


def print_result(result: QueryResult, fmt: str = "table", out: TextIO | None = None) -> None:
    out = out or sys.stdout  # at call time: a default of sys.stdout is frozen at import
    if fmt == "json":
        for row in result.rows:
            out.write(orjson.dumps({c: plain(v) for c, v in zip(result.columns, row, strict=False)}).decode() + "\n")
    elif fmt == "csv":
        out.write(csv_text(result))
    else:
        out.write(format_table(result) + "\n")


def csv_text(result: QueryResult) -> str:
    """The result as BigQuery's CSV export writes it: a header, then one line a row."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_csv_value(v) for v in row])
    return buf.getvalue()


def format_table(result: QueryResult, width: int | None = None) -> str:
    """An aligned table; on a terminal (or with `width`) it fits that many columns."""
    cells = [[_cell(v) for v in row] for row in result.rows]
    if width is None and sys.stdout.isatty():
        import shutil

        width = shutil.get_terminal_size().columns
    if width:
        cells = _fit(cells, list(result.columns), width)
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=False))
    rule = "  ".join("-" * w for w in widths)
    body = [
        "  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths, strict=False)) for r in cells
    ]
    return "\n".join([line, rule, *body, f"({len(result.rows):,} row{'s' if len(result.rows) != 1 else ''})"])


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "", 1).lstrip("-").isdigit()
