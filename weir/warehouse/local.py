"""The embedded local warehouse: one DuckDB file under $WEIR_HOME, same tables and columns.

DuckDB allows one writing process, or many readers, per file. So connections are opened
per operation and closed at once (a query never holds the file while a commit waits), a
rebuild's rows reach the file only through `replace_days` in the weir process (never from a
Beam worker), and an operation that finds the file locked retries for a while.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator

import duckdb

from weir import schemas
from weir.warehouse.base import QueryError, QueryResult, Warehouse, WriteRefused
from weir.warehouse.params import duckdb_parameters
from weir.warehouse.sqlfuncs import UDFS
from weir.warehouse.translate import to_duckdb, translate

_DUCK_TYPES = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "INTEGER": "BIGINT",
    "FLOAT64": "DOUBLE",
    "BOOL": "BOOLEAN",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMPTZ",
    "DATE": "DATE",
    "BYTES": "BLOB",
    "JSON": "JSON",
    "NUMERIC": "DECIMAL(38, 9)",
}
LOCK_WAIT_S = 30.0


def duck_type(field: schemas.Field) -> str:
    base = _DUCK_TYPES[field.type]
    return f"{base}[]" if field.repeated else base


def _json_type(field: schemas.Field) -> str:
    """How the NDJSON loader reads a column before casting (see transforms.rows encodings)."""
    if field.type in ("TIMESTAMP", "BYTES", "DATE"):
        return "VARCHAR[]" if field.repeated else "VARCHAR"
    return duck_type(field)


def _from_json(field: schemas.Field) -> str:
    col = f'"{field.name}"'
    if field.type == "TIMESTAMP":
        return f"CAST({col} AS TIMESTAMPTZ)"
    if field.type == "DATE":
        return f"CAST({col} AS DATE)"
    if field.type == "BYTES":
        return f"from_base64({col})"
    return col


def _error_parts(exc: Exception) -> tuple[str, str | None, str | None]:
    """DuckDB's multi-line error -> (what is wrong, the candidates it offers, where)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    what = lines[0].split(": ", 1)[-1] if lines else str(exc)  # "Binder Error: ..." -> "..."
    candidates = next((line.rstrip("!") for line in lines[1:] if line.startswith("Candidate")), None)
    at = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("LINE ")), None)
    return what.rstrip("!"), candidates, at


def _one_line(exc: Exception, statement: str, original: str) -> str:
    """DuckDB's multi-line error as one line: what is wrong, the candidates it offers, where;
    and the statement as translated, when it differs from what the user wrote."""
    what, candidates, at = _error_parts(exc)
    message = f"query failed: {what}"
    if candidates:
        message += f" ({candidates})"
    if at:
        message += f" at: {at}"
    if " ".join(statement.split()).lower() != " ".join(original.split()).lower():
        message += f" [run locally as: {statement}]"
    return message


def _lock_holder(message: str) -> str:
    """Who holds the DuckDB file, from DuckDB's lock error ("... (PID 123) by user ...")."""
    import re

    pid = re.search(r"PID (\d+)", message)
    if not pid:
        return "another process"
    try:
        with open(f"/proc/{pid.group(1)}/cmdline", "rb") as fh:
            cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = ""
    return f"process {pid.group(1)}" + (f" ({cmd[:120]})" if cmd else "")


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _arrow_select(spec: schemas.TableSpec) -> str:
    """The select list that makes Arrow columns (`transforms.sinks.arrow_schema`: TIMESTAMP
    already UTC, BYTES already bytes, DATE as text) the table's columns, in its order."""
    return ", ".join(
        f'CAST("{f.name}" AS DATE) AS "{f.name}"' if f.type == "DATE" else f'"{f.name}"' for f in spec.fields
    )


def _rollback(con) -> None:
    """Rolls back if a transaction is still open. A COMMIT that failed (a full disk) has ended
    it already, and a ROLLBACK error then would hide the error that matters."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def warehouse_path(home: str) -> str:
    """The local warehouse's DuckDB file under WEIR_HOME."""
    return os.path.join(home, "warehouse.duckdb")


class LocalWarehouse(Warehouse):
    """DuckDB file `<home>/warehouse.duckdb`; the dataset is a DuckDB schema."""

    staging_format = "parquet"  # read without parsing; NDJSON files load too

    def __init__(
        self,
        home: str,
        dataset: str = schemas.DEFAULT_DATASET,
        lock_wait_s: float | None = None,
        shared_reads: bool = False,
    ):
        """`shared_reads` (weir serve): read-only queries share one connection while they come
        in bursts (see `_SharedReader`); otherwise every operation opens and closes its own."""
        self.home = home
        self.dataset = dataset
        self.lock_wait_s = LOCK_WAIT_S if lock_wait_s is None else lock_wait_s
        self.path = warehouse_path(home)
        self._shared = _SharedReader(self) if shared_reads else None

    @contextlib.contextmanager
    def _connect(
        self, read_only: bool = False, functions: bool = True, sandboxed: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection; `functions` registers weir's SQL functions, which queries
        and view definitions need and plain loads do not (measured ~4 ms a connection, and
        the streaming sink connects once per table per bundle). `sandboxed` turns DuckDB's
        external access off: no file but the warehouse's own can be read or written."""
        if read_only and not os.path.exists(self.path):
            self.ensure_tables()
        os.makedirs(self.home, exist_ok=True)
        deadline = time.monotonic() + self.lock_wait_s
        said = False
        while True:
            try:
                con = duckdb.connect(
                    self.path, read_only=read_only, config={"enable_external_access": False} if sandboxed else {}
                )
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                holder = _lock_holder(str(exc))
                if time.monotonic() > deadline:
                    raise QueryError(
                        f"the warehouse {self.path} stayed locked for {self.lock_wait_s:g} s by {holder}"
                    ) from None
                if not said and time.monotonic() > deadline - self.lock_wait_s + 2:
                    print(f"weir: waiting for {self.path}, locked by {holder} ...", file=sys.stderr)
                    said = True
                time.sleep(0.2)
        try:
            con.execute("SET TimeZone = 'UTC'")
            for name, (fn, params, ret) in UDFS.items() if functions else ():
                try:
                    con.create_function(name, fn, params, ret, null_handling="special")
                except duckdb.CatalogException as exc:  # this process's database instance has it already
                    if "already exists" not in str(exc):
                        raise
            if self._schema_exists(con):
                con.execute(f"SET schema = {_sql_str(self.dataset)}")
            yield con
        finally:
            for name in UDFS if functions else ():
                with contextlib.suppress(Exception):
                    con.remove_function(name)
            con.close()

    def _catalog_message(self, con, exc: Exception) -> str:
        """A missing table or column, said as BigQuery would, with what does exist (DuckDB
        suggests its own system views, `pg_enum` and the like, which no analyst means)."""
        what, _, at = _error_parts(exc)
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [self.dataset]
            ).fetchall()
        ]
        where = f" (at: {at})" if at else ""
        return f"{what}{where}. Tables and views in {self.dataset}: {', '.join(names) or 'none yet'}"

    def _schema_exists(self, con) -> bool:
        return bool(
            con.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = ?", [self.dataset]).fetchall()
        )

    def ensure_tables(self) -> None:
        with self._connect() as con:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.dataset}"')
            for spec in (*schemas.tables().values(), *schemas.settings_tables().values()):
                cols = ", ".join(f'"{f.name}" {duck_type(f)}' for f in spec.fields)
                con.execute(f'CREATE TABLE IF NOT EXISTS "{self.dataset}"."{spec.name}" ({cols})')
                existing = {
                    r[0]
                    for r in con.execute(
                        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                        [self.dataset, spec.name],
                    ).fetchall()
                }
                for f in spec.fields:  # schemas evolve additively: new columns only
                    if f.name not in existing:
                        con.execute(f'ALTER TABLE "{self.dataset}"."{spec.name}" ADD COLUMN "{f.name}" {duck_type(f)}')
            for view in schemas.VIEWS:  # BigQuery SQL, translated like any analyst's query
                (body,), _ = to_duckdb(schemas.view_sql(view, self.dataset))
                con.execute(f'CREATE OR REPLACE VIEW "{self.dataset}"."{view}" AS {body}')

    def replace_parts(self, staged: dict[str, dict[str, list[str]]], parts: list) -> dict[str, int]:
        from weir.warehouse.scope import predicate

        self.ensure_tables()
        loaded: dict[str, int] = {}
        with self._connect(functions=False) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for table in self.tables():
                    spec = schemas.table(table)
                    target = f'"{self.dataset}"."{table}"'
                    where, params = predicate(table, parts, "duckdb")
                    con.execute(f"DELETE FROM {target} WHERE {where}", {n: v for n, _, v in params})
                    files = [p for paths in staged.get(table, {}).values() for p in paths]
                    loaded[table] = self._load(con, spec, target, files) if files else 0
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
        return loaded

    def upsert(self, table: str, files: list[str]) -> int:
        """Streaming landing of one table; see `upsert_many`."""
        return self.upsert_many({table: files})[table]

    def upsert_many(self, files_by_table: dict[str, list]) -> dict[str, int]:
        """Streaming landing: rows, staged in NDJSON or Parquet files or given as Arrow tables
        (`transforms.sinks.arrow_schema`), replace the rows with the same key (SPEC: a pane
        replaces the previous value of its row); tables without a key append. Every table in
        one short transaction on one connection (opening and closing the DuckDB file is most
        of the cost of a small write), so readers wait at most for one batch and never see one
        table's rows without another's."""
        loaded: dict[str, int] = {}
        with self._connect(functions=False) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for table, parts in files_by_table.items():
                    spec = schemas.table(table)
                    target = f'"{self.dataset}"."{table}"'
                    if not spec.key:
                        loaded[table] = self._load(con, spec, target, parts)
                        continue
                    with self._incoming(con, spec, target, parts) as count:
                        loaded[table] = count
                        match = " AND ".join(f't."{k}" = i."{k}"' for k in spec.key)
                        # Only the incoming rows' span of the partition column is searched: the
                        # scan skips every older row group (measured: deleting 8,000 keys from
                        # a 2,000,000-row events table took 62 ms, 10 ms bounded). Where the
                        # column is part of the key (metric rows, the ledger) nothing else could
                        # match; for events (key: site, event_id) a row of the same id at
                        # another event time is kept, as the stream counted it (docs/streaming.md).
                        part = spec.partition_field
                        lo, hi = con.execute(f'SELECT min("{part}"), max("{part}") FROM incoming').fetchone()
                        con.execute(
                            f'DELETE FROM {target} AS t WHERE t."{part}" BETWEEN $lo AND $hi '
                            f"AND EXISTS (SELECT 1 FROM incoming AS i WHERE {match})",
                            {"lo": lo, "hi": hi},
                        )
                        con.execute(f"INSERT INTO {target} SELECT * FROM incoming")
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
        return loaded

    @classmethod
    @contextlib.contextmanager
    def _incoming(cls, con, spec: schemas.TableSpec, target: str, parts: list) -> Iterator[int]:
        """`incoming`, the rows of `parts` in `target`'s columns, within: a view over them when
        they are all Arrow tables (scanned in place: a temporary copy was a measured part of
        a landing), else a temporary table they are loaded into. Yields their count."""
        tables = [p for p in parts if not isinstance(p, str)]
        if tables and len(tables) == len(parts):
            import pyarrow as pa

            arrow = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
            con.register("weir_incoming_arrow", arrow)
            con.execute(f"CREATE TEMP VIEW incoming AS SELECT {_arrow_select(spec)} FROM weir_incoming_arrow")
            try:
                yield arrow.num_rows
            finally:
                con.execute("DROP VIEW incoming")
                con.unregister("weir_incoming_arrow")
            return
        con.execute(f"CREATE TEMP TABLE incoming AS SELECT * FROM {target} LIMIT 0")
        try:
            yield cls._load(con, spec, "incoming", parts)
        finally:
            con.execute("DROP TABLE incoming")

    @staticmethod
    def _load(con, spec: schemas.TableSpec, target: str, parts: list) -> int:
        tables = [p for p in parts if not isinstance(p, str)]
        parquet = [p for p in parts if isinstance(p, str) and p.endswith(".parquet")]
        json_files = [p for p in parts if isinstance(p, str) and not p.endswith(".parquet")]
        loaded = sum(LocalWarehouse._load_arrow(con, spec, target, t) for t in tables)
        loaded += LocalWarehouse._load_parquet(con, spec, target, parquet) if parquet else 0
        return loaded + (LocalWarehouse._load_json(con, spec, target, json_files) if json_files else 0)

    @staticmethod
    def _load_arrow(con, spec: schemas.TableSpec, target: str, table) -> int:
        con.register("weir_incoming_arrow", table)
        try:
            names = ", ".join(f'"{f.name}"' for f in spec.fields)
            inserted = con.execute(
                f"INSERT INTO {target} ({names}) SELECT {_arrow_select(spec)} FROM weir_incoming_arrow"
            )
            return int(inserted.fetchone()[0])
        finally:
            con.unregister("weir_incoming_arrow")

    @staticmethod
    def _load_parquet(con, spec: schemas.TableSpec, target: str, files: list[str]) -> int:
        file_list = "[" + ", ".join(_sql_str(p) for p in files) + "]"
        names = ", ".join(f'"{f.name}"' for f in spec.fields)
        inserted = con.execute(
            f"INSERT INTO {target} ({names}) SELECT {_arrow_select(spec)} FROM read_parquet({file_list})"
        )
        return int(inserted.fetchone()[0])

    @staticmethod
    def _load_json(con, spec: schemas.TableSpec, target: str, files: list[str]) -> int:
        columns = "{" + ", ".join(f"{_sql_str(f.name)}: {_sql_str(_json_type(f))}" for f in spec.fields) + "}"
        file_list = "[" + ", ".join(_sql_str(p) for p in files) + "]"
        select = ", ".join(_from_json(f) for f in spec.fields)
        names = ", ".join(f'"{f.name}"' for f in spec.fields)
        inserted = con.execute(
            f"INSERT INTO {target} ({names}) SELECT {select} FROM read_json({file_list}, "
            f"format = 'newline_delimited', columns = {columns}, maximum_object_size = 16777216)"
        ).fetchone()
        return int(inserted[0])

    def query(self, sql: str, params: dict | None = None, write: bool = False) -> QueryResult:
        translated = translate(sql)
        if not write and not all(reads for _, _, reads in translated):
            raise WriteRefused("this SQL changes data; weir runs it only when asked to write (weir sql --write)")
        bound = duckdb_parameters(params or {})
        missing = set().union(*(names for _, names, _ in translated)) - set(bound)
        if missing:
            raise QueryError(f"query parameters without a value: {', '.join('@' + n for n in sorted(missing))}")
        read_only = not write or all(reads for _, _, reads in translated)
        if read_only and not write and self._shared is not None:
            connection = self._shared.connection()
        else:
            connection = self._connect(read_only=read_only, sandboxed=not write)
        with connection as con:
            result = None
            for statement, names, _ in translated:
                try:
                    result = con.execute(statement, {n: bound[n] for n in names} if names else None)
                except duckdb.CatalogException as exc:
                    if "Table with name" not in str(exc):
                        raise QueryError(_one_line(exc, statement, sql)) from None
                    raise QueryError(self._catalog_message(con, exc)) from None
                except duckdb.Error as exc:
                    raise QueryError(_one_line(exc, statement, sql)) from None
            if result is None or result.description is None:
                return QueryResult([], [])
            columns = [d[0] for d in result.description]
            return QueryResult(columns, result.fetchall())


class _SharedReader:
    """One read-only, sandboxed connection for a burst of queries, then the file is let go.

    Opening the DuckDB file costs ~25 ms (connect, time zone, weir's functions, close),
    measured, more than answering a dashboard's query. But an open connection holds the file's
    lock, and the stream's landings need it: so the connection is closed once no query came
    for LINGER_S, and at the latest after HOLD_S, and then the file is left alone for GAP_S
    (a query arriving then waits) so that a waiting writer, which retries every 0.2 s, lands.
    Queries opening connections of their own back to back left it no room (measured: one
    landing in 3 s). Queries come from one thread at a time (the lock)."""

    LINGER_S, HOLD_S, GAP_S = 0.3, 1.0, 0.25  # the writer retries every 0.2 s: a gap of 0.25 s fits one try

    def __init__(self, warehouse: LocalWarehouse):
        self._warehouse = warehouse
        self._lock = threading.RLock()
        self._opened = self._used = self._closed = 0.0
        self._cm = self._con = None
        self._closer: threading.Thread | None = None

    @contextlib.contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            now = time.monotonic()
            if self._con is not None and now - self._opened > self.HOLD_S:
                self._close()
            if self._con is None and now - self._closed < self.GAP_S:
                time.sleep(self.GAP_S - (now - self._closed))  # the writer's turn
                now = time.monotonic()
            if self._con is None:
                self._cm = self._warehouse._connect(read_only=True, sandboxed=True)
                self._con, self._opened = self._cm.__enter__(), now
                if self._closer is None or not self._closer.is_alive():
                    self._closer = threading.Thread(target=self._close_when_idle, daemon=True)
                    self._closer.start()
            try:
                yield self._con
            finally:
                self._used = time.monotonic()

    def _close(self) -> None:
        cm, self._cm, self._con = self._cm, None, None
        self._closed = time.monotonic()
        if cm is not None:
            cm.__exit__(None, None, None)

    def _close_when_idle(self) -> None:
        while True:
            time.sleep(self.LINGER_S / 3)
            with self._lock:
                if self._con is None:
                    return
                now = time.monotonic()
                if now - self._used > self.LINGER_S:
                    self._close()
                    self._closed = 0.0  # idle: no query to hold off, and no gap is owed
                    return
                if now - self._opened > self.HOLD_S:
                    self._close()
                    return
