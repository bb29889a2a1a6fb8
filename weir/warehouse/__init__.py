"""The warehouse behind one small interface: BigQuery, or an embedded DuckDB file locally."""

from dataclasses import dataclass

from weir.warehouse.base import QueryError, QueryResult, Warehouse

__all__ = ["QueryError", "QueryResult", "Warehouse", "WarehouseRef", "open_warehouse"]


def open_warehouse(
    project: str | None, dataset: str, home: str, shared_reads: bool = False, **bigquery_options
) -> Warehouse:
    """BigQuery when a project is given, else the local DuckDB warehouse under `home`
    (`shared_reads`: see LocalWarehouse; a server's choice)."""
    if project:
        from weir.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse(project=project, dataset=dataset, **bigquery_options)
    from weir.warehouse.local import LocalWarehouse

    return LocalWarehouse(home=home, dataset=dataset, shared_reads=shared_reads)


@dataclass(frozen=True)
class WarehouseRef:
    """Where a warehouse is, as plain values: what a pipeline step carries to a worker and
    opens there (a client does not pickle). `api_endpoint` points BigQuery at an emulator."""

    project: str | None
    dataset: str
    home: str = ""
    location: str | None = None
    overwrite: str = "partition"
    api_endpoint: str | None = None

    def open(self) -> Warehouse:
        if not self.project:
            return open_warehouse(None, self.dataset, self.home)
        options: dict = {"location": self.location, "overwrite": self.overwrite}
        if self.api_endpoint:
            from weir.warehouse.bigquery import emulator_client

            options["client"] = emulator_client(self.project, self.api_endpoint)
        return open_warehouse(self.project, self.dataset, self.home, **options)
