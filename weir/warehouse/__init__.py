"""The warehouse behind one small interface: BigQuery, or an embedded DuckDB file locally."""

from weir.warehouse.base import QueryError, QueryResult, Warehouse

__all__ = ["QueryError", "QueryResult", "Warehouse", "open_warehouse"]


def open_warehouse(project: str | None, dataset: str, home: str, **bigquery_options) -> Warehouse:
    """BigQuery when a project is given, else the local DuckDB warehouse under `home`."""
    if project:
        from weir.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse(project=project, dataset=dataset, **bigquery_options)
    from weir.warehouse.local import LocalWarehouse

    return LocalWarehouse(home=home, dataset=dataset)
