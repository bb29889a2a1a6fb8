"""What the refresh scripts beside this file share: the source's commit, writing the JSON."""

from __future__ import annotations

import json
import subprocess


def commit_of(checkout: str) -> str:
    """The checked-out commit of a source repository ('unknown' outside git)."""
    out = subprocess.run(["git", "-C", checkout, "rev-parse", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def write(path: str, data: dict) -> None:
    """The data file, one entry per line, so a refresh reads as a diff of entries."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
