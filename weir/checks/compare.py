"""`weir compare --date D --left A --right B`: two sets of metric tables, bucket by bucket.

A and B are datasets (every metrics table of the day) or `dataset.table` (that one). Sum
metrics (page views, engaged seconds, ...) must match exactly; distinct-count estimates
(visitors, sessions, ...) within HLL++ error: `ESTIMATE_TOLERANCE` relative (about three
standard errors at precision 15) or 1. Used for a stream against a rebuild of the same day,
and for a migration's old numbers against the new ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from weir import schemas
from weir.transforms.metrics import METRICS
from weir.usage import UsageError
from weir.warehouse.base import Warehouse
from weir.warehouse.params import dataset_id
from weir.warehouse.params import day as parse_day

ESTIMATE_TOLERANCE = 0.02
METRIC_TABLES = schemas.metric_tables()


@dataclass
class TableDiff:
    table: str
    compared: int = 0
    only_left: int = 0
    only_right: int = 0
    count_diffs: int = 0
    estimate_diffs: int = 0
    sketch_diffs: int = 0
    worst: list = field(default_factory=list)  # (abs diff, key, metric, left, right)

    @property
    def differs(self) -> bool:
        return bool(self.only_left or self.only_right or self.count_diffs or self.estimate_diffs)


def _targets(spec: str, grain: str) -> list[tuple[str, str]]:
    """(qualified name, table) pairs for a dataset or dataset.table spec. Both parts are
    validated (a dataset id, one of METRIC_TABLES) before they are written into SQL."""
    if "." in spec:
        dataset, table = spec.rsplit(".", 1)
        if table not in METRIC_TABLES:
            raise UsageError(f"{spec!r}: {table!r} is not a metrics table ({', '.join(METRIC_TABLES)})")
        return [(f"{dataset_id(dataset)}.{table}", table)]
    tables = [t for t in METRIC_TABLES if grain == "both" or t.endswith(grain)]
    return [(f"{dataset_id(spec)}.{t}", t) for t in tables]


def _estimate_ok(left: int, right: int) -> bool:
    return abs(left - right) <= max(1, ESTIMATE_TOLERANCE * max(left, right))


def compare_table(warehouse: Warehouse, left: str, right: str, table: str, day: str, zones=None) -> TableDiff:
    """`day` is each site's own day (`zones`, else the sites table's): for the 5-minute
    tables, the UTC span of that day in the site's zone."""
    from weir.transforms.sitetime import DayScope
    from weir.warehouse.scope import parts_of_day, predicate

    if zones is None:
        from weir import sites

        zones = sites.zones(warehouse)
    spec = schemas.table(table)
    key = [k for k in spec.key]
    where, typed = predicate(table, parts_of_day(DayScope(parse_day(day).isoformat()), zones), "bigquery")
    params = {name: value for name, _, value in typed}
    sums = [m.name for m in METRICS if m.kind == "sum"]
    estimates = [m.name for m in METRICS if m.kind == "distinct"]
    sketches = [m.sketch_column for m in METRICS if m.sketch_column]
    cols = sums + estimates + sketches
    select = ", ".join(
        [f"COALESCE(l.{k}, r.{k}) AS {k}" for k in key]
        + [f"l.{c} AS l_{c}" for c in cols]
        + [f"r.{c} AS r_{c}" for c in cols]
        + ["l.site IS NOT NULL AS in_l", "r.site IS NOT NULL AS in_r"]
    )
    on = " AND ".join(f"l.{k} = r.{k}" for k in key)
    sql = (
        f"SELECT {select} FROM (SELECT * FROM {left} WHERE {where}) AS l "
        f"FULL OUTER JOIN (SELECT * FROM {right} WHERE {where}) AS r ON {on}"
    )
    diff = TableDiff(table)
    for row in warehouse.query(sql, params).records():
        k = tuple(str(row[c]) for c in key)
        diff.compared += 1
        if not row["in_l"] or not row["in_r"]:
            if row["in_l"]:
                diff.only_left += 1
            else:
                diff.only_right += 1
            side = "l" if row["in_l"] else "r"
            diff.worst.append(
                (
                    row[f"{side}_pageviews"] or 0,
                    k,
                    "row only " + ("left" if row["in_l"] else "right"),
                    row["l_pageviews"],
                    row["r_pageviews"],
                )
            )
            continue
        count_bad = [c for c in sums if row[f"l_{c}"] != row[f"r_{c}"]]
        estimate_bad = [c for c in estimates if not _estimate_ok(row[f"l_{c}"] or 0, row[f"r_{c}"] or 0)]
        diff.count_diffs += bool(count_bad)
        diff.estimate_diffs += bool(estimate_bad)
        diff.sketch_diffs += any(bytes(row[f"l_{c}"] or b"") != bytes(row[f"r_{c}"] or b"") for c in sketches)
        for c in count_bad + estimate_bad:
            diff.worst.append((abs((row[f"l_{c}"] or 0) - (row[f"r_{c}"] or 0)), k, c, row[f"l_{c}"], row[f"r_{c}"]))
    diff.worst = sorted(diff.worst, key=lambda w: -w[0])[:10]
    return diff


def compare(warehouse: Warehouse, left: str, right: str, day: str, grain: str = "both") -> list[TableDiff]:
    parse_day(day)  # refused before any query
    lefts, rights = _targets(left, grain), _targets(right, grain)
    if [t for _, t in lefts] != [t for _, t in rights]:
        raise UsageError("--left and --right must name the same tables (two datasets, or two tables alike)")
    return [compare_table(warehouse, lq, rq, table, day) for (lq, table), (rq, _) in zip(lefts, rights, strict=True)]


def diffs_json(diffs: list[TableDiff], left: str, right: str, day: str) -> dict:
    """What `weir compare --json` prints: the day, the two sides, and each table's counts."""
    return {
        "date": day,
        "left": left,
        "right": right,
        "differs": any(d.differs for d in diffs),
        "estimate_tolerance": ESTIMATE_TOLERANCE,
        "tables": [
            {
                "table": d.table,
                "differs": d.differs,
                "compared": d.compared,
                "only_left": d.only_left,
                "only_right": d.only_right,
                "count_diffs": d.count_diffs,
                "estimate_diffs": d.estimate_diffs,
                "sketch_diffs": d.sketch_diffs,
                "worst": [
                    {"key": list(key), "metric": what, "left": lv, "right": rv, "diff": size}
                    for size, key, what, lv, rv in d.worst
                ],
            }  # fmt: skip
            for d in diffs
        ],
    }


def format_diffs(diffs: list[TableDiff], left: str, right: str, day: str) -> str:
    lines = [f"weir compare {day}: {left} vs {right}"]
    for d in diffs:
        state = "DIFFERS" if d.differs else "same"
        lines.append(
            f"  {d.table}: {state}: {d.compared} rows; only left {d.only_left}, only right {d.only_right}, "
            f"count diffs {d.count_diffs}, estimate diffs beyond {ESTIMATE_TOLERANCE:.0%} {d.estimate_diffs}, "
            f"sketches not byte-identical {d.sketch_diffs}"
        )
        for size, key, what, lv, rv in d.worst:
            lines.append(f"    {' | '.join(key)}: {what}: left {lv}, right {rv} (diff {size})")
    total = sum(d.differs for d in diffs)
    lines.append("no differences" if not total else f"{total} table(s) differ")
    return "\n".join(lines)
