"""The Google Cloud code paths against local emulators: gs:// archives and the BigQuery warehouse.

What the BigQuery emulator cannot do (partition decorators, BYTES decoding in JSON loads)
is said where it matters below and in the README.
"""

from __future__ import annotations

import base64
import os

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from tests import emulators
from weir import schemas
from weir.pipelines.rebuild import run_rebuild
from weir.traffic.generator import generate_day, write_avro_archive
from weir.warehouse import WarehouseRef
from weir.warehouse.base import WriteRefused
from weir.warehouse.bigquery import BigQueryWarehouse, emulator_client
from weir.warehouse.local import LocalWarehouse

DAY = "2025-11-20"
PROJECT = "weir-local"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("archive"))
    write_avro_archive(generate_day(DAY, events=1500, seed=31), root)
    return root


@pytest.fixture
def gcs(tmp_path, monkeypatch):
    proc, host = emulators.start_gcs(str(tmp_path))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
    # Beam looks for Google credentials for 20-25 s before going anonymous: tell it there are none.
    from apache_beam.internal.gcp import auth

    monkeypatch.setattr(auth._Credentials, "_credentials_init", True)
    monkeypatch.setattr(auth._Credentials, "_credentials", None)
    yield host
    emulators.stop(proc)


def upload_dir(bucket_name: str, root: str, prefix: str) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project=PROJECT, credentials=AnonymousCredentials())
    bucket = client.create_bucket(bucket_name)
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            bucket.blob(f"{prefix}/{os.path.relpath(path, root)}").upload_from_filename(path)


def test_rebuild_reads_gs_archive_like_local(gcs, archive, tmp_path):
    upload_dir("weir-archive", archive, "raw")
    local_home, gcs_home = str(tmp_path / "local"), str(tmp_path / "gcs")
    for home, pattern in [
        (local_home, f"{archive}/dt={DAY}/*/*.avro"),
        (gcs_home, f"gs://weir-archive/raw/dt={DAY}/*/*.avro"),
    ]:
        run_rebuild(
            PipelineOptions([f"--input={pattern}"]),
            LocalWarehouse(home),
            staging_root=os.path.join(home, "staging"),
            progress=lambda _m: None,
        )
    q = "SELECT site, url, bucket_start, pageviews, visitors_sketch FROM url_metrics_5m ORDER BY 1, 2, 3"
    from_gcs = LocalWarehouse(gcs_home).query(q).rows
    assert from_gcs and from_gcs == LocalWarehouse(local_home).query(q).rows
    sources = LocalWarehouse(gcs_home).query("SELECT DISTINCT source FROM dead_letters").rows
    assert all(s[0].startswith("gs://weir-archive/raw/") for s in sources)


@pytest.fixture(scope="module")
def bigquery_endpoint(tmp_path_factory):
    proc, endpoint = emulators.start_bigquery(str(tmp_path_factory.mktemp("bq")), PROJECT)
    yield endpoint
    emulators.stop(proc)


@pytest.fixture(scope="module")
def bigquery_client(bigquery_endpoint):
    return emulator_client(PROJECT, bigquery_endpoint)


def test_bigquery_tables_are_partitioned_clustered_and_expire(bigquery_client):
    wh = BigQueryWarehouse(PROJECT, "tables_check", client=bigquery_client)
    wh.ensure_tables()
    wh.ensure_tables()  # idempotent
    for spec in schemas.tables().values():
        t = bigquery_client.get_table(wh.table_id(spec.name))
        assert t.time_partitioning.field == spec.partition_field
        assert t.time_partitioning.type_ == "DAY"
        assert t.time_partitioning.expiration_ms == spec.expiration_days * 86_400_000
        assert t.clustering_fields == list(spec.clustering)
        assert [f.name for f in t.schema] == list(spec.field_names)


def test_bigquery_rebuild_matches_local_and_is_idempotent(bigquery_client, archive, tmp_path):
    home = str(tmp_path)
    pattern = f"{archive}/dt={DAY}/*/*.avro"
    local = LocalWarehouse(home)
    # The emulator has no partition decorators, so the DML overwrite path is what runs here.
    bq = BigQueryWarehouse(PROJECT, "rebuild_check", client=bigquery_client, overwrite="dml")
    results = []
    for wh in (local, bq, bq):
        results.append(
            run_rebuild(
                PipelineOptions([f"--input={pattern}"]),
                wh,
                staging_root=os.path.join(home, "staging"),
                progress=lambda _m: None,
            ).loaded
        )
    assert results[0] == results[1] == results[2]
    for table in ("events", "dead_letters", "url_metrics_1d", "breakdown_metrics_5m"):
        assert bq.query(f"SELECT COUNT(*) FROM {table}").rows == [(results[0][table],)]  # not doubled
    q = "SELECT site, url, SUM(pageviews), SUM(engaged_seconds), SUM(bot_pageviews) FROM url_metrics_5m GROUP BY 1, 2"
    assert sorted(bq.query(q).rows) == sorted(local.query(q).rows)
    q = "SELECT url, visitors_sketch FROM url_metrics_1d WHERE visitors_sketch IS NOT NULL ORDER BY url"
    bq_sketches, local_sketches = bq.query(q).rows, local.query(q).rows
    # bqemulator keeps BYTES from JSON loads as their base64 text; decoded, they are the sketches.
    assert [(u, base64.b64decode(s)) for u, s in bq_sketches] == [(u, bytes(s)) for u, s in local_sketches]
    # Values as query parameters; a statement that changes data refused unless asked (issue #14).
    hostile = "x'; DELETE FROM events WHERE TRUE; --"
    assert bq.query("SELECT COUNT(*) FROM events WHERE site = @site", {"site": hostile}).rows == [(0,)]
    with pytest.raises(WriteRefused):
        bq.query("DELETE FROM events WHERE TRUE")
    assert bq.query("SELECT COUNT(*) FROM events").rows == [(results[0]["events"],)]


class _RecordingClient:
    """Records the calls the transaction path makes (the emulator has no transactions)."""

    def __init__(self):
        self.loads, self.queries, self.created, self.deleted = [], [], [], []

    def load_table_from_file(self, buf, destination, job_config):
        self.loads.append((destination, job_config.write_disposition, buf.read().count(b"\n")))

        class Job:
            output_rows = self.loads[-1][2]

            def result(self):
                return self

        return Job()

    def create_table(self, table, exists_ok=False):
        self.created.append(table.table_id)

    def delete_table(self, table, not_found_ok=False):
        self.deleted.append(table)

    def query(self, sql, job_config=None):
        self.queries.append(
            (
                sql,
                {p.name: getattr(p, "value", None) or getattr(p, "values", None) for p in job_config.query_parameters},
            )
        )

        class Job:
            def result(self):
                return self

        return Job()


def test_a_site_day_is_replaced_in_one_transaction_per_table(tmp_path):
    from weir.transforms.sitetime import DayScope, SiteZones
    from weir.warehouse.scope import parts_of_day

    staged_file = tmp_path / "events-2025-11-20.json"
    staged_file.write_bytes(b'{"a":1}\n{"a":2}\n')
    client = _RecordingClient()
    wh = BigQueryWarehouse("p", "d", client=client)
    wh.ensure_tables = lambda: None  # table creation is covered against the emulator above
    zones = SiteZones.of({"ny.example": "America/New_York"})
    loaded = wh.replace_parts(
        {"events": {"2025-11-20": [str(staged_file)]}}, parts_of_day(DayScope("2025-11-20"), zones)
    )
    assert loaded["events"] == 2
    events_sql, params = next(q for q in client.queries if "INSERT INTO `p.d.events`" in q[0])
    assert events_sql.startswith("BEGIN TRANSACTION;") and events_sql.rstrip().endswith("COMMIT TRANSACTION;")
    assert "DELETE FROM `p.d.events` WHERE" in events_sql
    # New York's 2025-11-20 is 05:00 UTC that day to 05:00 UTC the next; UTC's leaves New York's site out.
    assert 1763614800000 in params.values() and 1763701200000 in params.values()
    assert ["ny.example"] in params.values()
    # A table with nothing staged: its rows of the day are deleted, nothing loaded.
    assert any(q[0].startswith("DELETE FROM `p.d.url_metrics_1d`") for q in client.queries)


def test_rebuild_job_commits_itself_like_the_launcher_does(bigquery_endpoint, bigquery_client, archive, tmp_path):
    """The Dataflow/Flex Template path: the job's last step replaces the days (the launching
    process only submits), here on the FnApiRunner against the BigQuery emulator."""
    pattern = f"{archive}/dt={DAY}/*/*.avro"
    staging = os.path.join(str(tmp_path), "staging")
    local = LocalWarehouse(str(tmp_path))
    expected = run_rebuild(PipelineOptions([f"--input={pattern}"]), local, staging, progress=lambda _m: None)
    ref = WarehouseRef(PROJECT, "commit_in_job", overwrite="dml", api_endpoint=bigquery_endpoint)
    bq = ref.open()
    for _ in range(2):  # a second run replaces, never adds
        got = run_rebuild(
            PipelineOptions([f"--input={pattern}", f"--date={DAY}"]),
            bq,
            staging,
            progress=lambda _m: None,
            commit_in_job=ref,
        )
        assert got.counters["days_committed"] == 1
        assert {t: n for t, n in got.loaded.items() if n} == {t: n for t, n in expected.loaded.items() if n}
    for table in ("events", "url_metrics_5m", "breakdown_metrics_1d"):
        assert bq.query(f"SELECT COUNT(*) FROM {table}").rows == [(expected.loaded[table],)]
    q = "SELECT site, url, SUM(pageviews), SUM(engaged_seconds) FROM url_metrics_1d GROUP BY 1, 2"
    assert sorted(bq.query(q).rows) == sorted(local.query(q).rows)
