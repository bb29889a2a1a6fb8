"""The reference data shipped in transforms/data/ (referrer, crawler and device lists), read
from the installed package: a file name in, its JSON out. No download, ever (each file's
`_about` says its source, commit, licence and refresh script)."""

from __future__ import annotations

import json
from importlib import resources


def reference_data(name: str) -> dict:
    """transforms/data/<name> as a dict."""
    return json.loads(resources.files("weir.transforms").joinpath(f"data/{name}").read_text("utf-8"))
