"""Compacting a closed hour of the local archive: many small files become one, with nothing
lost or doubled at any step (a rebuild before, during and after gives the same tables), crash
points included, and other writers' files left alone."""

from __future__ import annotations

import glob
import os

import pytest

from tests.test_rebuild import dump, rebuild
from weir.traffic.generator import generate_day, write_avro_archive
from weir.transforms import compaction
from weir.transforms.compaction import compact_closed_hours, compact_hour, without_replaced
from weir.transforms.sitetime import day_span
from weir.warehouse.local import LocalWarehouse

DAY = "2025-11-20"
HOUR = day_span(DAY)[0] + 10 * 3_600_000  # 10:00 UTC
CLOSED = HOUR / 1000 + 3600 + compaction.CLOSED_AFTER_S  # when that hour may be compacted


@pytest.fixture
def archive(tmp_path):
    """An hour written as the archiver writes it: one small file per batch, bad records too."""
    root = str(tmp_path / "archive")
    records = [r for r in generate_day(DAY, events=3000, seed=5) if HOUR <= r[0] < HOUR + 3_600_000]
    records += [(HOUR + 60_000 + i, b"{not json %d" % i) for i in range(5)]  # dead letters: their source counts
    for i in range(0, len(records), 7):
        write_avro_archive(records[i : i + 7], root)
    write_avro_archive(records[:3], root, prefix="demo")  # another writer's file: never compacted
    return root


def hour_files(root: str) -> list[str]:
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(root, "dt=*", "hour=*", "*")))


def rebuilt(tmp_path, root: str, name: str) -> dict:
    home = str(tmp_path / name)
    rebuild(home, os.path.join(root, "dt=*", "hour=*", "*.avro"))
    return dump(LocalWarehouse(home))


def test_an_hour_compacts_into_one_file_and_every_rebuild_gives_the_same_tables(archive, tmp_path):
    before = rebuilt(tmp_path, archive, "before")
    parts = [n for n in hour_files(archive) if n.startswith("part-")]
    assert len(parts) > 10 and before["dead_letters"]
    assert compact_closed_hours(archive, now_s=CLOSED - 1) == 0  # not closed yet
    assert compact_closed_hours(archive, now_s=CLOSED) == len(parts)
    during = hour_files(archive)  # the compact file, its manifest, and the files it replaces
    assert sum(n.startswith("compact-") for n in during) == 1 and sum(n.startswith("_compaction-") for n in during) == 1
    assert rebuilt(tmp_path, archive, "during") == before  # dead letters name the same source
    assert compact_closed_hours(archive, now_s=CLOSED + 60) == 0  # nothing new to compact
    compact_closed_hours(archive, now_s=CLOSED + compaction.REMOVE_AFTER_S)  # the replaced files go
    after = hour_files(archive)
    assert [n for n in after if not n.startswith("demo-")] == [n for n in during if n.startswith("compact-")]
    assert any(n.startswith("demo-") for n in after)  # weir demo's file is its own
    assert rebuilt(tmp_path, archive, "after") == before


def test_a_late_file_in_a_compacted_hour_is_compacted_again(archive, tmp_path):
    compact_closed_hours(archive, now_s=CLOSED)
    extra = [r for r in generate_day(DAY, events=400, seed=9) if HOUR <= r[0] < HOUR + 3_600_000]
    write_avro_archive(extra, archive)  # a redelivered batch with an old publish time
    expected = rebuilt(tmp_path, archive, "expected")
    assert compact_closed_hours(archive, now_s=CLOSED + 60) == 2  # the compact file and the new one
    assert rebuilt(tmp_path, archive, "again") == expected
    compact_closed_hours(archive, now_s=CLOSED + 60 + compaction.REMOVE_AFTER_S)
    assert sum(n.startswith(("part-", "compact-")) for n in hour_files(archive)) == 1, hour_files(archive)
    assert rebuilt(tmp_path, archive, "final") == expected


def test_a_crash_at_any_step_loses_and_doubles_nothing(archive, tmp_path, monkeypatch):
    before = rebuilt(tmp_path, archive, "before")
    directory = glob.glob(os.path.join(archive, "dt=*", "hour=10"))[0]

    # Killed after the manifest, before the compact file appeared: the manifest is ignored
    # by readers and removed by the next pass.
    def die(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr("weir.transforms.archive.write_archive_file", die)
    with pytest.raises(KeyboardInterrupt):
        compact_hour(directory, now_s=CLOSED)
    monkeypatch.undo()
    assert any(n.startswith("_compaction-") for n in hour_files(archive))
    assert not any(n.startswith("compact-") for n in hour_files(archive))
    assert rebuilt(tmp_path, archive, "crash1") == before
    assert compact_hour(directory, now_s=CLOSED) > 0  # undoes the dead manifest, compacts anew
    assert sum(n.startswith("_compaction-") for n in hour_files(archive)) == 1

    # Killed after the compact file appeared: readers take it and leave out what it replaced.
    assert rebuilt(tmp_path, archive, "crash2") == before

    # A listing made before the compact file appeared keeps every file it saw.
    listing = [p for p in glob.glob(os.path.join(directory, "*.avro")) if "compact-" not in os.path.basename(p)]
    assert without_replaced(listing) == listing


def test_the_streams_replay_reads_a_compacted_hour_once(archive):
    from weir.pipelines.local.stream import replay_records

    def replayed():
        records = replay_records(archive, HOUR, "projects/p/subscriptions/events-sub")
        return sorted((r["received_at"], r["payload"]) for r in records)

    before = replayed()
    compact_closed_hours(archive, now_s=CLOSED)
    assert replayed() == before and before
