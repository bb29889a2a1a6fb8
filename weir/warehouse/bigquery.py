"""The BigQuery warehouse (google-cloud-bigquery): the production implementation.

Tables are created from `schemas/` with DAY partitioning on the SPEC column, clustering and
partition expiration. A rebuild replaces each site's local day (weir.warehouse.scope), which
in any zone but UTC spans two UTC partitions and shares them with other sites: so it is
committed per table by loading the staged files into a scratch table and running the DELETE
of the day's rows and the INSERT of the new ones in one multi-statement transaction.
`overwrite="dml"` runs the same two statements without the transaction, for endpoints that
have none (the local BigQuery emulator used by the tests).
"""

from __future__ import annotations

import io
import uuid

from apache_beam.io.filesystems import FileSystems
from google.cloud import bigquery

from weir import schemas
from weir.warehouse.base import QueryError, QueryResult, Warehouse, WriteRefused


def emulator_client(project: str, api_endpoint: str) -> bigquery.Client:
    """A client for a BigQuery-compatible endpoint that takes no credentials (an emulator)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    return bigquery.Client(
        project=project, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=api_endpoint)
    )


def bq_schema(spec: schemas.TableSpec) -> list[bigquery.SchemaField]:
    return [bigquery.SchemaField(f.name, f.type, mode=f.mode, description=f.description) for f in spec.fields]


class BigQueryWarehouse(Warehouse):
    """Tables in `project.dataset`.

    Args:
      client: a ready client (tests pass one pointed at the emulator); else one is made
        with Application Default Credentials.
      overwrite: "partition" (the DELETE and INSERT in one transaction) or "dml" (without one; see module doc).
    """

    def __init__(
        self,
        project: str,
        dataset: str = schemas.DEFAULT_DATASET,
        location: str | None = None,
        client: bigquery.Client | None = None,
        overwrite: str = "partition",
    ):
        if overwrite not in ("partition", "dml"):
            raise ValueError("overwrite must be 'partition' or 'dml'")
        self.project, self.dataset, self.location = project, dataset, location
        self.client = client or bigquery.Client(project=project, location=location)
        self.overwrite = overwrite

    def table_id(self, table: str) -> str:
        return f"{self.project}.{self.dataset}.{table}"

    def ensure_tables(self) -> None:
        ds = bigquery.Dataset(f"{self.project}.{self.dataset}")
        if self.location:
            ds.location = self.location
        self.client.create_dataset(ds, exists_ok=True)
        for spec in schemas.tables().values():
            table = bigquery.Table(self.table_id(spec.name), schema=bq_schema(spec))
            table.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.DAY,
                field=spec.partition_field,
                expiration_ms=spec.expiration_days * 86_400_000,
            )
            table.clustering_fields = list(spec.clustering)
            table.description = spec.description
            self._create_or_extend(table, spec)
        for spec in schemas.settings_tables().values():  # small, unpartitioned
            table = bigquery.Table(self.table_id(spec.name), schema=bq_schema(spec))
            table.description = spec.description
            self._create_or_extend(table, spec)
        for name in schemas.VIEWS:
            view = bigquery.Table(self.table_id(name))
            view.view_query = schemas.view_sql(name, f"{self.project}.{self.dataset}")
            self.client.delete_table(view, not_found_ok=True)  # a view's SQL is replaced, never merged
            self.client.create_table(view)

    def _create_or_extend(self, table: bigquery.Table, spec: schemas.TableSpec) -> None:
        existing = self.client.create_table(table, exists_ok=True)
        missing = [f for f in bq_schema(spec) if f.name not in {c.name for c in existing.schema}]
        if missing:  # schemas evolve additively: new NULLABLE columns only
            existing.schema = list(existing.schema) + missing
            self.client.update_table(existing, ["schema"])

    def _load_config(self, table: str, disposition: str) -> bigquery.LoadJobConfig:
        return bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            schema=bq_schema(schemas.table(table)),
            write_disposition=disposition,
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
        )

    def _load(self, files: list[str], destination: str, config: bigquery.LoadJobConfig) -> int:
        if all(f.startswith("gs://") for f in files):
            job = self.client.load_table_from_uri(files, destination, job_config=config)
        else:  # a local rebuild: one upload holding every file, so the load stays one atomic job
            buf = io.BytesIO()
            for path in files:
                with FileSystems.open(path) as fh:
                    buf.write(fh.read())
            buf.seek(0)
            job = self.client.load_table_from_file(buf, destination, job_config=config)
        job.result()
        return int(job.output_rows or 0)

    def replace_parts(self, staged: dict[str, dict[str, list[str]]], parts: list) -> dict[str, int]:
        """Per table: the staged files loaded into a scratch table, then the rows in `parts`
        deleted and the scratch rows inserted, in one multi-statement transaction (with
        `overwrite="dml"`, for endpoints without transactions, as two statements)."""
        from weir.warehouse.params import bigquery_parameters
        from weir.warehouse.scope import predicate

        self.ensure_tables()
        loaded: dict[str, int] = {}
        for table in self.tables():
            spec = schemas.table(table)
            where, typed = predicate(table, parts, "bigquery")
            params = bigquery_parameters({name: value for name, _, value in typed})
            files = [p for paths in staged.get(table, {}).values() for p in paths]
            delete = f"DELETE FROM `{self.table_id(table)}` WHERE {where}"
            loaded[table] = 0
            if not files:
                self._run(delete, params)
                continue
            scratch = self.table_id(f"_weir_stage_{table}_{uuid.uuid4().hex[:8]}")
            self.client.create_table(bigquery.Table(scratch, schema=bq_schema(spec)))
            try:
                loaded[table] = self._load(files, scratch, self._load_config(table, "WRITE_APPEND"))
                cols = ", ".join(f"`{f.name}`" for f in spec.fields)
                insert = f"INSERT INTO `{self.table_id(table)}` ({cols}) SELECT {cols} FROM `{scratch}`"
                if self.overwrite == "dml":
                    self._run(delete, params)
                    self._run(insert)
                else:  # readers see the day's old rows or its new ones, never neither
                    self._run(f"BEGIN TRANSACTION;\n{delete};\n{insert};\nCOMMIT TRANSACTION;", params)
            finally:
                self.client.delete_table(scratch, not_found_ok=True)
        return loaded

    def _statement_type(self, sql: str, params: list) -> str:
        config = bigquery.QueryJobConfig(
            default_dataset=f"{self.project}.{self.dataset}", query_parameters=params, dry_run=True
        )
        try:
            return self.client.query(sql, job_config=config).statement_type or "UNKNOWN"
        except Exception as exc:  # google.api_core errors carry the server's message
            raise QueryError(f"query failed: {exc}") from None

    def _run(self, sql: str, params=None):
        config = bigquery.QueryJobConfig(
            default_dataset=f"{self.project}.{self.dataset}", query_parameters=params or []
        )
        try:
            return self.client.query(sql, job_config=config).result()
        except Exception as exc:  # google.api_core errors carry the server's message
            raise QueryError(f"query failed: {exc}") from None

    def query(self, sql: str, params: dict | None = None, write: bool = False) -> QueryResult:
        from weir.warehouse.params import bigquery_parameters

        parameters = bigquery_parameters(params or {})
        if not write:  # BigQuery itself says what the statement does: a dry run is free
            kind = self._statement_type(sql, parameters)
            if kind != "SELECT":
                raise WriteRefused(f"this SQL is a {kind}, not a query; weir runs it only when asked to (--write)")
        rows = self._run(sql, parameters)
        columns = [f.name for f in rows.schema] if rows.schema else []
        return QueryResult(columns, [tuple(r.values()) for r in rows])
