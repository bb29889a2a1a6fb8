"""The raw archive's layout and file format: hourly Avro files of `archive_record.avsc` records.

    <root>/dt=YYYY-MM-DD/hour=HH/<name>.avro      (partitioned by receive time, UTC)

One writer for every producer of archive files (the local archiver, generated demo days),
so `weir rebuild --input '<root>/dt=D/*/*.avro'` reads them all the same way.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable

import fastavro
from apache_beam.io.filesystems import FileSystems

import schemas
from transforms.timeutil import day_str

_PARSED = None


def _schema():
    global _PARSED
    if _PARSED is None:
        _PARSED = fastavro.parse_schema(schemas.archive_record_schema())
    return _PARSED


def hour_dir(root: str, received_ms: int) -> str:
    return FileSystems.join(root, f"dt={day_str(received_ms)}", f"hour={(received_ms // 3_600_000) % 24:02d}")


def write_archive_file(path: str, records: Iterable[dict]) -> None:
    """Writes one Avro file at once (local or gs://); a reader never sees it half written:
    locally it is written under a temporary name and renamed, on GCS an object appears whole."""
    buf = io.BytesIO()
    fastavro.writer(buf, _schema(), list(records), codec="deflate")
    data = buf.getvalue()
    if path.startswith("gs://"):
        with FileSystems.create(path) as fh:
            fh.write(data)
        return
    import os

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())  # archived before acked: it must survive a crash of this process
    os.replace(tmp, path)


def archive_records(root: str, records: list[dict], prefix: str = "part") -> list[str]:
    """Writes records (each with `received_at` ms) into their hour directories; returns the paths."""
    by_hour: dict[str, list[dict]] = {}
    for rec in records:
        by_hour.setdefault(hour_dir(root, rec["received_at"]), []).append(rec)
    paths = []
    for directory, recs in sorted(by_hour.items()):
        first = min(r["received_at"] for r in recs)
        path = FileSystems.join(directory, f"{prefix}-{first}-{uuid.uuid4().hex[:8]}.avro")
        write_archive_file(path, recs)
        paths.append(path)
    return paths
