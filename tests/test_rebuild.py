"""Batch mode end to end: archive files -> weir rebuild -> the local warehouse."""

from __future__ import annotations

import os

import orjson
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from weir.pipelines.rebuild import run_rebuild
from weir.traffic.generator import generate_day, malformed_payloads, write_avro_archive, write_json_lines
from weir.transforms.rows import redact_ip
from weir.warehouse.local import LocalWarehouse

DAY = "2025-11-20"
TABLES = ("events", "dead_letters", "url_metrics_5m", "url_metrics_1d", "breakdown_metrics_5m", "breakdown_metrics_1d")


def rebuild(home: str, *inputs: str, date: str | None = None):
    flags = [f"--input={i}" for i in inputs] + ([f"--date={date}"] if date else [])
    return run_rebuild(
        PipelineOptions(flags),
        LocalWarehouse(home),
        staging_root=os.path.join(home, "staging"),
        progress=lambda _m: None,
    )


def dump(wh: LocalWarehouse) -> dict[str, list]:
    out = {}
    for t in TABLES:
        cols = ", ".join(f.name for f in __import__("weir.schemas", fromlist=["table"]).table(t).fields)
        out[t] = sorted(wh.query(f"SELECT {cols} FROM {t}").rows, key=repr)
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    write_avro_archive(generate_day(DAY, events=3000, seed=11), str(root))
    return str(root)


def test_rebuild_twice_leaves_identical_tables(weir_home, archive):
    first = rebuild(weir_home, f"{archive}/dt={DAY}/*/*.avro")
    wh = LocalWarehouse(weir_home)
    before = dump(wh)
    assert first.days == [DAY]
    assert all(first.loaded[t] > 0 for t in TABLES)
    assert len(before["events"]) == first.loaded["events"]
    second = rebuild(weir_home, f"{archive}/dt={DAY}/*/*.avro")
    assert second.loaded == first.loaded
    assert dump(wh) == before  # byte-identical rows, sketches included


def test_rebuild_replaces_only_its_days(weir_home, tmp_path):
    other = generate_day("2025-11-21", events=400, seed=5)
    write_avro_archive(generate_day(DAY, events=400, seed=4), str(tmp_path / "a"))
    write_avro_archive(other, str(tmp_path / "a"))
    rebuild(weir_home, str(tmp_path / "a" / "*" / "*" / "*.avro"))
    wh = LocalWarehouse(weir_home)
    day2 = wh.query("SELECT COUNT(*) FROM events WHERE DATE(event_ts) = '2025-11-21'").rows[0][0]
    # Rebuild DAY alone from a smaller input: DAY shrinks, the other day is untouched.
    write_avro_archive(generate_day(DAY, events=100, seed=6), str(tmp_path / "b"))
    result = rebuild(weir_home, str(tmp_path / "b" / "*" / "*" / "*.avro"), date=DAY)
    assert result.days == [DAY]
    counts = dict(wh.query("SELECT CAST(DATE(event_ts) AS STRING), COUNT(*) FROM events GROUP BY 1").rows)
    assert counts == {DAY: result.loaded["events"], "2025-11-21": day2}


def test_date_scope_counts_what_it_leaves_out(weir_home, tmp_path):
    records = generate_day(DAY, events=300, seed=8) + generate_day("2025-11-21", events=200, seed=9)
    path = write_json_lines(records, str(tmp_path / "mixed.jsonl"))
    result = rebuild(weir_home, path, date="2025-11-21")
    assert result.counters["events_out_of_scope"] > 0
    wh = LocalWarehouse(weir_home)
    assert wh.query("SELECT COUNT(DISTINCT DATE(event_ts)) FROM events").rows == [(1,)]


def test_every_malformed_input_is_accounted_for(weir_home, tmp_path):
    good = [orjson.loads(p) for _, p in generate_day(DAY, events=200, seed=2, bad_share=0, dupe_share=0)]
    bad = []
    for i, g in enumerate(good[:5]):
        bad += malformed_payloads(__import__("random").Random(i), g)
    bad += [b"\x00\x01\x02", b"{}" * 10, b'{"a":' * 2000, '{"url": "\u2028"}'.encode(), b"1e999", b"   x"]
    lines = [orjson.dumps(g) for g in good] + [b.replace(b"\n", b" ") for b in bad]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n\n")  # a trailing blank line is counted, not a record
    result = rebuild(weir_home, str(path), date=DAY)
    non_blank = [ln for ln in lines if ln.strip()]
    blank = len(lines) - len(non_blank) + 1
    assert result.counters["records_read"] == len(non_blank)
    assert result.counters["blank_lines_skipped"] == blank
    wh = LocalWarehouse(weir_home)
    accepted = wh.query("SELECT COUNT(*) FROM events").rows[0][0]
    dead = wh.query("SELECT COUNT(*) FROM dead_letters").rows[0][0]
    assert accepted == len(good)
    assert accepted + dead == len(non_blank)
    kept = {bytes(r[0]) for r in wh.query("SELECT payload_bytes FROM dead_letters").rows}
    assert {redact_ip(b[: 1 << 20]) for b in non_blank[len(good) :]} == kept  # raw payloads but for the IP


def test_missing_input_is_an_error_not_an_empty_rebuild(weir_home, tmp_path):
    with pytest.raises(Exception, match="(?i)no files|match"):
        rebuild(weir_home, str(tmp_path / "nothing-here" / "*.avro"))
