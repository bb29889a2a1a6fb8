"""weir.bench.stages: every stage of a rebuild's work, timed over the whole day, no record lost."""

from weir.bench.stages import main, measure_stages
from weir.traffic.generator import generate_day, write_json_lines

STAGES = [
    "read",
    "parse",
    "dedupe_partition",
    "dedupe_first_copies",
    "enrich",
    "event_rows",
    "event_arrow",
    "contributions",
    "expand",
    "format",
]


def test_every_stage_is_timed_over_the_day(tmp_path, capsys):
    path = write_json_lines(generate_day("2025-11-20", events=600, sites=["a.example"]), str(tmp_path / "d.jsonl"))
    out = measure_stages(path)
    with open(path, "rb") as fh:
        assert out["records"] == sum(1 for _ in fh)
    # The generated day holds bad input and duplicates: fewer events than records, but some.
    assert 0 < out["events"] < out["records"]
    assert out["metric_rows"] > out["events"] / 10
    assert list(out["us_per_record"]) == STAGES and all(us > 0 for us in out["us_per_record"].values())
    assert main([path]) == 0 and "total_us=" in capsys.readouterr().out
    assert main([]) == 2
