"""The tracker, `weir.js`, shipped inside the package so `weir collect` serves it at /weir.js.

Out: `script()` its bytes; `integrity()` its Subresource Integrity value (sha384-…) for a
`<script integrity=…>` that pins this exact file.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from importlib.resources import files


@functools.cache
def script() -> bytes:
    return files(__name__).joinpath("weir.js").read_bytes()


def integrity() -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(script()).digest()).decode()
