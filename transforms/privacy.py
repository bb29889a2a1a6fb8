"""The client IP is stored nowhere (SPEC §1, issue #14): a byte-level redaction of "ip" members.

The collector no longer puts the IP in events, but other producers may publish payloads that
carry one. `transforms.archive.record_of_message` (the one door from Pub/Sub into the stream
and the archive) and dead-letter rows redact it here. It matches on the bytes, so even a
truncated, unparseable payload is covered; everything else stays byte for byte.
"""

from __future__ import annotations

import re

_IP_MEMBER = re.compile(rb'("ip"\s*:\s*)"(?:[^"\\]|\\.)*"?')
REDACTED = b'"<redacted>"'


def redact_ip(payload: bytes) -> bytes:
    """The payload with the value of every "ip" member replaced by "<redacted>"."""
    if b'"ip"' not in payload:
        return payload
    return _IP_MEMBER.sub(lambda m: m.group(1) + REDACTED, payload)
