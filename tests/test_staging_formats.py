"""A rebuild staged as Parquet (the local warehouse's format) leaves exactly the tables it
leaves staged as NDJSON (BigQuery's load encoding, the format before issue #20): every row of
every table, sketches byte for byte, on a generated day with bad input and duplicates."""

from __future__ import annotations

import os

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from tests.test_rebuild import DAY
from weir import schemas
from weir.pipelines import rebuild as rebuild_module
from weir.pipelines.rebuild import run_rebuild
from weir.traffic.generator import generate_day, write_avro_archive
from weir.transforms.sinks import StagedFilesSink
from weir.warehouse.local import LocalWarehouse


class _JsonStagedWarehouse(LocalWarehouse):
    staging_format = "ndjson"


def _rebuild(warehouse: LocalWarehouse, archive: str):
    return run_rebuild(
        PipelineOptions([f"--input={archive}/dt={DAY}/*/*.avro"]),
        warehouse,
        staging_root=os.path.join(warehouse.home, "staging"),
        progress=lambda _m: None,
    )


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    write_avro_archive(generate_day(DAY, events=2500, seed=23), str(root))
    return str(root)


def _dump(warehouse: LocalWarehouse) -> dict[str, list]:
    out = {}
    for name, spec in schemas.tables().items():
        columns = ", ".join(f.name for f in spec.fields)
        out[name] = sorted(warehouse.query(f"SELECT {columns} FROM {name}").rows, key=repr)
    return out


def test_parquet_and_ndjson_staging_leave_identical_tables(tmp_path, archive, monkeypatch):
    suffixes = []

    def staged_files(root):
        staged = real_staged_files(root)
        suffixes.append({os.path.splitext(p)[1] for days in staged.values() for ps in days.values() for p in ps})
        return staged

    real_staged_files = rebuild_module.staged_files
    monkeypatch.setattr(rebuild_module, "staged_files", staged_files)
    as_parquet = LocalWarehouse(str(tmp_path / "parquet"))
    as_json = _JsonStagedWarehouse(str(tmp_path / "json"))
    first, second = _rebuild(as_parquet, archive), _rebuild(as_json, archive)
    assert suffixes == [{".parquet"}, {".json"}]  # each rebuild staged in its warehouse's format
    assert first.loaded == second.loaded and sum(first.loaded.values()) > 10_000
    parquet_rows, json_rows = _dump(as_parquet), _dump(as_json)
    assert all(parquet_rows[t] for t in ("events", "dead_letters", "url_metrics_5m", "breakdown_metrics_1d"))
    for table in parquet_rows:
        assert parquet_rows[table] == json_rows[table], table  # sketches (BYTES) byte for byte


def test_an_unknown_staging_format_is_refused():
    with pytest.raises(ValueError, match="staging format"):
        StagedFilesSink("/tmp/x", fmt="csv")
