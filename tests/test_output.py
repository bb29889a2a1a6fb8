"""Tables and CSV as a person reads them (issue #16): fitted to the terminal without ever
making two different values look the same, thousands separators, CSV as BigQuery exports."""

from __future__ import annotations

import csv
import io

from weir.console.output import format_table, print_result
from weir.warehouse.base import QueryResult

URLS = [f"https://www.dailyglobe.example/business/market-school-budget-{i}" for i in range(12)]


def test_a_narrow_terminal_shortens_in_the_middle_and_keeps_values_apart():
    result = QueryResult(["url", "pageviews"], [(u, 1_000 + i) for i, u in enumerate(URLS)])
    text = format_table(result, width=50)
    rows = text.splitlines()[2:-1]
    assert all(len(r.rstrip()) <= 50 for r in rows)
    shown = [r.split("  ")[0] for r in rows]
    assert len(set(shown)) == len(URLS) and all("…" in s for s in shown)  # shortened, all different
    assert "1,000" in text and "1,011" in text


def test_values_that_differ_only_in_the_middle_are_never_shortened_alike():
    a, b = "x" * 30 + "A" + "y" * 30, "x" * 30 + "B" + "y" * 30
    text = format_table(QueryResult(["v"], [(a,), (b,)]), width=20)
    assert a in text and b in text  # kept whole rather than shown as one


def test_csv_is_as_bigquery_exports_it():
    out = io.StringIO()
    print_result(QueryResult(["flag", "tags", "n", "none"], [(False, ["a", "b"], 5, None)]), "csv", out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [["flag", "tags", "n", "none"], ["false", '["a","b"]', "5", ""]]
