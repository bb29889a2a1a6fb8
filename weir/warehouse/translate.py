"""BigQuery Standard SQL -> DuckDB SQL (sqlglot), with weir's additions and corrections.

sqlglot translates most of the dialect; where its DuckDB output answers differently from
BigQuery, the rewrite below corrects it (each case is in
tests/test_sql_fidelity.py with the value BigQuery's documentation gives):

- `HLL_COUNT.MERGE/MERGE_PARTIAL/INIT(x [, precision])` -> `weir_hll_*(LIST(...))`, also as
  analytic functions (`OVER (...)`) and with `SAFE.`; `HLL_COUNT.EXTRACT(x)` ->
  `weir_hll_extract(x)` (see weir.warehouse.sqlfuncs); `APPROX_COUNT_DISTINCT(x)` is the
  same HLL++ estimate, as in BigQuery.
- `EXTRACT(DAYOFWEEK)` is 1-based from Sunday, `WEEK` and `WEEK(<weekday>)` count weeks
  from that weekday, `ISOWEEK` is the ISO week.
- `DATE_TRUNC`, `DATE_ADD`, `DATE_SUB`, `LAST_DAY` of a DATE are DATEs; string literals
  where BigQuery expects a DATE or TIMESTAMP are read as one.
- `UNNEST ... WITH OFFSET` counts from 0; `UNIX_SECONDS` truncates; `ARRAY_AGG(... LIMIT n)`.
- `NET.HOST`, `NET.PUBLIC_SUFFIX`, `NET.REG_DOMAIN` run on the shipped public suffix list
  (DuckDB's own would download an extension).
- Columns without a name are called `f0_`, `f1_`, ... as BigQuery calls them.
- `project.dataset.table` -> `dataset.table`: the local file has no projects.
"""

from __future__ import annotations

import functools

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


class TranslationError(QueryError):
    """The query is not BigQuery SQL weir can run locally."""


def _timestamp_diff(node: exp.TimestampDiff) -> exp.Expression:
    unit = (node.unit.name if isinstance(node.unit, exp.Expression) else str(node.unit or "")).upper()
    if unit not in _MICROS:
        return _with_children_rewritten(node)
    end, start = _sql(node.this), _sql(node.expression)
    return sqlglot.parse_one(
        f"CAST(TRUNC((EPOCH_US({end}) - EPOCH_US({start})) / {_MICROS[unit]}.0) AS BIGINT)", read="duckdb"
    )


_WEEKDAYS = ("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")
_DATE_FUNCS = (exp.DateTrunc, exp.DateAdd, exp.DateSub, exp.DateDiff, exp.LastDay)
_TIMESTAMP_FUNCS = (exp.TimestampTrunc, exp.TimestampAdd, exp.TimestampSub, exp.TimestampDiff)


def _sql(node: exp.Expression) -> str:
    return node.transform(_rewrite).sql(dialect="duckdb")


def _duck(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="duckdb")


def _with_children_rewritten(node: exp.Expression) -> exp.Expression:
    """A copy of `node` whose argument expressions went through the rewrite (a node the
    rewrite replaces is not descended into by sqlglot's transform)."""
    out = node.copy()
    for key, value in list(out.args.items()):
        if isinstance(value, exp.Expression):
            out.set(key, value.transform(_rewrite))
        elif isinstance(value, list):
            out.set(key, [v.transform(_rewrite) if isinstance(v, exp.Expression) else v for v in value])
    return out


def _is_date(node: exp.Expression | None) -> bool:
    """Whether `node` is known to be a DATE (a literal, a cast, DATE(), CURRENT_DATE, a date
    function of a DATE, a DATE column of weir's tables)."""
    if isinstance(node, exp.Cast):
        return node.to.is_type(exp.DataType.Type.DATE)
    if isinstance(node, (exp.Date, exp.CurrentDate, exp.DateFromParts, exp.StrToDate)):
        return True
    if isinstance(node, (exp.DateTrunc, exp.DateAdd, exp.DateSub, exp.LastDay)):
        return _is_date(node.this) or (isinstance(node.this, exp.Literal) and node.this.is_string)
    return isinstance(node, exp.Column) and node.name in _date_columns()


@functools.cache
def _date_columns() -> frozenset[str]:
    from weir import schemas

    return frozenset(f.name for t in schemas.tables().values() for f in t.fields if f.type == "DATE")


def _coerce_literals(node: exp.Expression, to: str) -> exp.Expression:
    """String literals among a date/timestamp function's operands read as `to`, as BigQuery
    coerces them ('2017-12-30' is a DATE in DATE_DIFF)."""
    for key in ("this", "expression"):
        arg = node.args.get(key)
        if isinstance(arg, exp.Literal) and arg.is_string:
            node.set(key, exp.Cast(this=arg, to=exp.DataType.build(to)))
    return node


def _weekday(unit) -> int | None:
    """0 (SUNDAY) .. 6 for WEEK / WEEK(<weekday>); None for any other part."""
    if isinstance(unit, exp.WeekStart):
        return _WEEKDAYS.index(unit.this.name.upper())
    if isinstance(unit, (exp.Var, exp.Literal)) and unit.name.upper() == "WEEK":
        return 0
    return None


def _extract(node: exp.Extract) -> exp.Expression:
    part, value = node.this, _sql(node.expression)
    name = part.name.upper() if isinstance(part, (exp.Var, exp.Literal)) else ""
    if name == "DAYOFWEEK":
        return _duck(f"(DAYOFWEEK({value}) + 1)")
    if name == "ISOWEEK":
        return _duck(f"WEEK({value})")
    if name == "ISOYEAR":
        return _duck(f"ISOYEAR({value})")
    start = _weekday(part)
    if start is not None:  # week 0 holds the days before the year's first `start` weekday
        return _duck(f"CAST(FLOOR((DAYOFYEAR({value}) - (DAYOFWEEK({value}) - {start} + 7) % 7 + 6) / 7) AS BIGINT)")
    return _with_children_rewritten(node)


def _hll_call(node: exp.Expression):
    """(function name, arguments, safe) of an HLL_COUNT.<fn>(...) call, else None."""
    if not isinstance(node, exp.Dot):
        return None
    safe = False
    head = node.this
    if isinstance(head, exp.Dot) and isinstance(head.this, exp.Identifier) and head.this.name.upper() == "SAFE":
        safe, head = True, head.expression
    if not (isinstance(head, exp.Identifier) and head.name.upper() == "HLL_COUNT"):
        return None
    call = node.expression
    if not isinstance(call, (exp.Anonymous, exp.Func)):
        return None
    name = (call.name if isinstance(call, exp.Anonymous) else call.sql_name()).upper()
    args = list(call.expressions) if isinstance(call, exp.Anonymous) else [call.this, *call.expressions]
    return name, [a.transform(_rewrite) for a in args if a is not None], safe


def _precision(args: list[exp.Expression]) -> int:
    if len(args) < 2:
        return 15
    p = args[1]
    if not (isinstance(p, exp.Literal) and not p.is_string and p.name.isdigit() and 10 <= int(p.name) <= 24):
        raise TranslationError("HLL_COUNT.INIT precision must be an integer literal from 10 to 24")
    return int(p.name)


def _hll(name: str, args: list[exp.Expression], safe: bool, window: exp.Window | None) -> exp.Expression:
    def aggregate(fn: str, arg: exp.Expression) -> exp.Expression:
        call = _plain_aggregate(fn, arg)
        if window is None:
            return call
        over = window.copy()
        over.set("this", call)
        return over

    prefix = "weir_safe_hll_" if safe else "weir_hll_"
    if name == "EXTRACT":
        if window is not None:
            raise TranslationError("HLL_COUNT.EXTRACT is not an aggregate: it takes no OVER clause")
        return exp.Anonymous(this=prefix + "extract", expressions=args[:1])
    if name in ("MERGE", "MERGE_PARTIAL"):
        return exp.Anonymous(this=prefix + name.lower(), expressions=[aggregate("LIST", args[0])])
    if name == "INIT":
        return _hll_init(args[0], _precision(args), strict=True, prefix=prefix, aggregate=aggregate)
    raise TranslationError(f"HLL_COUNT.{name} is not supported")


def _plain_aggregate(fn: str, arg: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=fn, expressions=[arg])


def _hll_init(value: exp.Expression, precision: int, strict: bool, prefix: str, aggregate) -> exp.Expression:
    # DuckDB's Python functions take one declared type, so values travel as text with their
    # type's name, and the function hashes each as BigQuery does for that type.
    as_text = aggregate("LIST", exp.Cast(this=value, to=exp.DataType.build("VARCHAR")))
    type_name = aggregate("ANY_VALUE", exp.Anonymous(this="TYPEOF", expressions=[value.copy()]))
    return exp.Anonymous(
        this=prefix + "init",
        expressions=[as_text, type_name, exp.Literal.number(precision), exp.Boolean(this=strict)],
    )


def _net(node: exp.NetFunc) -> exp.Expression:
    inner = node.this
    names = {exp.Host: "weir_net_host", exp.RegDomain: "weir_net_reg_domain"}
    fn = names.get(type(inner)) or {"PUBLIC_SUFFIX": "weir_net_public_suffix"}.get(
        inner.name.upper() if isinstance(inner, exp.Anonymous) else ""
    )
    if fn is None:
        raise TranslationError(f"NET.{inner.sql()} is not supported locally")
    args = [inner.this] if not isinstance(inner, exp.Anonymous) else list(inner.expressions)
    return exp.Anonymous(this=fn, expressions=[a.transform(_rewrite) for a in args])


def _array_agg(node: exp.ArrayAgg) -> exp.Expression:
    limit = node.this
    agg = exp.ArrayAgg(this=limit.this.transform(_rewrite))
    return _duck(f"LIST_SLICE({agg.sql(dialect='duckdb')}, 1, {_sql(limit.expression)})")


def _unnest_offsets(root: exp.Expression) -> exp.Expression:
    """`UNNEST(a) AS x WITH OFFSET AS off` counts from 0 in BigQuery; DuckDB's WITH ORDINALITY
    from 1. The ordinal column gets a private name and each use of `off` reads it minus one."""
    renamed: dict[str, str] = {}
    for unnest in root.find_all(exp.Unnest):
        offset = unnest.args.get("offset")
        if not isinstance(offset, exp.Identifier):
            continue
        private = f"__weir_ordinal_{len(renamed)}"
        renamed[offset.name.lower()] = private
        unnest.set("offset", exp.to_identifier(private))
    if not renamed:
        return root

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name.lower() in renamed:
            value = exp.Sub(this=exp.column(renamed[node.name.lower()]), expression=exp.Literal.number(1))
            if isinstance(node.parent, exp.Select) or node.arg_key == "expressions" and node.parent is None:
                return exp.alias_(exp.Paren(this=value), node.name)
            return exp.Paren(this=value)
        return node

    return root.transform(fix)


def _struct_arrays(statement: exp.Expression) -> exp.Expression:
    """`[STRUCT(1 AS a, 'x' AS b), (2, 'y')]`: BigQuery names the tuples' fields after the
    first struct's; sqlglot then sees a list of structs and unnests it into columns."""
    changed = False
    for array in statement.find_all(exp.Array):
        first, rest = (array.expressions[0], array.expressions[1:]) if array.expressions else (None, [])
        if not (isinstance(first, exp.Struct) and all(isinstance(f, exp.PropertyEQ) for f in first.expressions)):
            continue
        names = [f.this.name for f in first.expressions]
        tuples = [t for t in rest if isinstance(t, exp.Tuple) and len(t.expressions) == len(names)]
        if not tuples:
            continue
        for t in tuples:
            fields = [
                exp.PropertyEQ(this=exp.to_identifier(n), expression=v)
                for n, v in zip(names, t.expressions, strict=True)
            ]
            t.replace(exp.Struct(expressions=fields))
        changed = True
    if not changed:
        return statement
    return sqlglot.parse_one(statement.sql(dialect="bigquery"), read="bigquery")  # types annotated anew


def _name_anonymous_columns(statement: exp.Expression) -> exp.Expression:
    """BigQuery calls the outermost query's unnamed columns f0_, f1_, ... in order."""
    select = statement
    while isinstance(select, exp.SetOperation):  # a UNION's names are its first query's
        select = select.this
    if not isinstance(select, exp.Select):
        return statement
    n = 0
    items = []
    for item in select.expressions:
        if isinstance(item, (exp.Alias, exp.Column, exp.Star)) or (isinstance(item, exp.Dot) and item.is_star):
            items.append(item)
            continue
        items.append(exp.alias_(item, f"f{n}_"))
        n += 1
    select.set("expressions", items)
    return statement


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.TimestampTrunc) and node.args.get("zone") is not None:
        # TIMESTAMP_TRUNC(ts, HOUR, zone): truncated on the zone's wall clock (an hour in
        # Asia/Kathmandu starts at :15 UTC); sqlglot drops the zone when writing DuckDB.
        zone = node.args["zone"].transform(_rewrite)
        unit = exp.Literal.string(node.unit.name.lower() if isinstance(node.unit, exp.Expression) else str(node.unit))
        wall = exp.Anonymous(this="timezone", expressions=[zone, node.this.transform(_rewrite)])
        truncated = exp.Anonymous(this="date_trunc", expressions=[unit, wall])
        return exp.Anonymous(this="timezone", expressions=[zone.copy(), truncated])
    zone = node.args.get("zone") if isinstance(node, exp.Timestamp) else None
    if zone is not None and not isinstance(zone, exp.Literal):
        # TIMESTAMP(d, zone) with the zone from a column (a site's, in `sites`): the local
        # midnight of d there. sqlglot writes a literal zone as AT TIME ZONE itself.
        local = exp.Cast(this=node.this.transform(_rewrite), to=exp.DataType.build("TIMESTAMP"))
        return exp.Anonymous(this="timezone", expressions=[zone.transform(_rewrite), local])
    if isinstance(node, exp.TimestampDiff):
        return _timestamp_diff(_coerce_literals(node.copy(), "TIMESTAMPTZ"))
    if isinstance(node, exp.Window) and _hll_call(node.this) is not None:
        name, args, safe = _hll_call(node.this)
        window = _with_children_rewritten(node)
        return _hll(name, args, safe, window)
    hll = _hll_call(node)
    if hll is not None:
        return _hll(*hll, window=None)
    if isinstance(node, exp.ApproxDistinct):  # BigQuery's estimate is HLL++ at precision 15
        init = _hll_init(node.this.transform(_rewrite), 15, False, "weir_hll_", _plain_aggregate)
        return exp.Anonymous(this="weir_hll_extract", expressions=[init])
    if isinstance(node, exp.Extract):
        return _extract(node)
    if isinstance(node, exp.NetFunc):
        return _net(node)
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Limit):
        return _array_agg(node)
    if isinstance(node, exp.UnixSeconds):
        return _duck(f"CAST(FLOOR(EPOCH({_sql(node.this)})) AS BIGINT)")
    if isinstance(node, _DATE_FUNCS) and isinstance(node.this, exp.Literal) and node.this.is_string:
        node = _coerce_literals(node.copy(), "DATE")
        if isinstance(node, exp.DateTrunc):
            return _duck(f"CAST(({_with_children_rewritten(node).sql(dialect='duckdb')}) AS DATE)")
        return _with_children_rewritten(node)
    if isinstance(node, (exp.DateTrunc, exp.DateAdd, exp.DateSub)) and _is_date(node.this):
        return _duck(f"CAST(({_with_children_rewritten(node).sql(dialect='duckdb')}) AS DATE)")
    if isinstance(node, exp.Table) and node.args.get("catalog") is not None:
        node = node.copy()
        node.set("catalog", None)
    return node


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> tuple[tuple[str, frozenset[str], bool], ...]:
    """BigQuery SQL (one or more statements) -> per statement: (DuckDB SQL, the names of the
    query parameters it uses, whether it only reads: `_only_reads`).

    Memoised: the text alone decides the translation (values come as parameters), and the
    API and the dashboard ask the same few statements again and again; parsing and
    rewriting one took 3-47 ms, more than DuckDB took to answer it (measured)."""
    try:
        statements = [_struct_arrays(s) for s in sqlglot.parse(sql, read="bigquery") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise TranslationError(f"not valid BigQuery SQL: {exc}") from None
    return tuple(
        (
            _name_anonymous_columns(_unnest_offsets(s.transform(_rewrite))).sql(dialect="duckdb"),
            frozenset(p.name for p in s.find_all(exp.Parameter)),
            _only_reads(s),
        )
        for s in statements
    )


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
