"""Compacting a closed hour of the local archive: its many small files into one, atomically.

The local archiver writes one Avro file per pulled batch (thousands an hour at low rates).
Once an hour has closed, its archiver files (`part-*`, and earlier compactions) become one
`compact-*.avro` holding every record once, each keeping the name of the file it came from
(`file`), so a record's `source` (a dead letter's) is the same before and after.

How no reader sees a record twice or misses one, whatever crashes when:
  1. a manifest `_compaction-<id>.json` names the compact file and the files it replaces;
  2. the compact file appears whole (written under a temporary name, fsynced, renamed);
  3. an hour later the replaced files and then the manifest are removed.
While a manifest's compact file exists, readers drop the files it replaces from what they
matched (`without_replaced`), but only when the compact file is among the files they matched
too: a listing made before step 2 reads the old files, one made after reads the compact
file. Step 3 waits an hour so that a reader that listed the old files can still open them.
A crash before step 2 leaves a manifest without its compact file, which is removed on the
next pass; a crash after it leaves one whose files are removed when due. Files of other
writers (`weir demo`'s `demo-*`) are never touched.

Pure file work (no Beam): the archiver runs it between pulls (pipelines.local.archiver).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable

import fastavro

COMPACT_PREFIX = "compact-"
MANIFEST_PREFIX = "_compaction-"
WRITER_PREFIXES = ("part-", COMPACT_PREFIX)  # the archiver's own files: the only ones compacted
CLOSED_AFTER_S = 600  # an hour is compacted this long after it ended (in-flight batches land first)
REMOVE_AFTER_S = 3600  # replaced files stay this long for readers that listed them


def _manifests(directory: str) -> list[dict]:
    out = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return out
    for name in names:
        if name.startswith(MANIFEST_PREFIX) and name.endswith(".json"):
            path = os.path.join(directory, name)
            try:
                with open(path, encoding="utf-8") as fh:
                    manifest = json.load(fh)
            except (OSError, ValueError):
                continue  # written under a temporary name: a partial one never has this name
            manifest["path"] = path
            out.append(manifest)
    return out


def without_replaced(paths: Iterable[str]) -> list[str]:
    """`paths` (a listing of archive files) less the files a compaction replaced, where that
    compaction's file is in the listing too (see the module docstring)."""
    paths = list(paths)
    listed = set(paths)
    drop: set[str] = set()
    for directory in {os.path.dirname(p) for p in paths if "://" not in p}:
        for manifest in _manifests(directory):
            if os.path.join(directory, manifest["compact"]) in listed:
                drop.update(os.path.join(directory, name) for name in manifest["replaces"])
    return [p for p in paths if p not in drop]


def _write_json(path: str, value) -> None:
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(value, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def compact_hour(directory: str, now_s: float | None = None) -> int:
    """Compacts one hour directory's archiver files into one (when there are two or more not
    already replaced); finishes or undoes earlier compactions there. Returns how many files
    the new compact file replaces (0: nothing to do)."""
    from weir.transforms.archive import write_archive_file

    now_s = time.time() if now_s is None else now_s
    replaced_now: set[str] = set()
    manifests = sorted(_manifests(directory), key=lambda m: (m.get("at", 0), m["path"]))  # oldest first
    superseded = {name for m in manifests for name in m["replaces"]}  # compact files compacted again
    for manifest in manifests:
        compact = os.path.join(directory, manifest["compact"])
        if not os.path.exists(compact) and manifest["compact"] not in superseded:
            os.remove(manifest["path"])  # crashed before its file appeared: nothing was replaced
            continue
        if now_s - manifest.get("at", now_s) >= REMOVE_AFTER_S:
            for name in manifest["replaces"]:
                try:
                    os.remove(os.path.join(directory, name))
                except FileNotFoundError:
                    pass
            os.remove(manifest["path"])
            continue
        replaced_now.update(manifest["replaces"])
    names = sorted(
        n
        for n in os.listdir(directory)
        if n.endswith(".avro") and n.startswith(WRITER_PREFIXES) and n not in replaced_now
    )
    if len(names) < 2:
        return 0
    records = []
    for name in names:
        with open(os.path.join(directory, name), "rb") as fh:
            for rec in fastavro.reader(fh):
                # A record keeps the file it first came from: its source is the same after.
                records.append({**rec, "file": rec.get("file") or name})
    first = min((r["received_at"] for r in records), default=0)
    compact = f"{COMPACT_PREFIX}{first}-{uuid.uuid4().hex[:8]}.avro"
    manifest_path = os.path.join(directory, f"{MANIFEST_PREFIX}{compact[len(COMPACT_PREFIX) : -5]}.json")
    _write_json(manifest_path, {"compact": compact, "replaces": names, "at": now_s, "records": len(records)})
    write_archive_file(os.path.join(directory, compact), records)
    return len(names)


def compact_closed_hours(root: str, now_s: float | None = None, closed_after_s: int = CLOSED_AFTER_S) -> int:
    """Compacts every hour of the archive under `root` that ended `closed_after_s` ago or
    more; returns how many files were replaced."""
    import glob

    now_s = time.time() if now_s is None else now_s
    done = 0
    for directory in sorted(glob.glob(os.path.join(root, "dt=*", "hour=*"))):
        day, hour = os.path.basename(os.path.dirname(directory))[3:], os.path.basename(directory)[5:]
        try:
            import datetime as dt

            start = dt.datetime.fromisoformat(f"{day}T{hour}:00:00+00:00").timestamp()
        except ValueError:
            continue
        if now_s >= start + 3600 + closed_after_s:
            done += compact_hour(directory, now_s)
    return done
