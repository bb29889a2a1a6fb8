"""The client IP is stored nowhere (SPEC §1): every "ip" member of a payload is redacted.

The collector puts no IP in events, but other producers may publish payloads that carry one.
`transforms.archive.record_of_message` (the one door from Pub/Sub into the stream and the
archive) and dead-letter rows redact it here.

In: payload bytes. Out: the same bytes when no member named "ip" is there; otherwise the
payload with the value of every such member, at any depth, replaced by "<redacted>".
A payload that parses is redacted on the parsed object, so a key spelt with JSON escapes
(`"\\u0069p"`) is the same key; one that does not parse (truncated, not JSON) is redacted on
its bytes, escaped spellings included, and otherwise kept byte for byte.
"""

from __future__ import annotations

import re

import orjson

# A key that decodes to "ip", each letter plain or \u-escaped, and a string value (possibly cut short).
_KEY = rb'"(?:i|\\u0069)(?:p|\\u0070)"'
_IP_MEMBER = re.compile(_KEY + rb'(\s*:\s*)(?:"(?:[^"\\]|\\.)*"?|[^,}\]\s]+)')
REDACTED_VALUE = "<redacted>"
REDACTED = b'"<redacted>"'


def _scrub(value: object) -> bool:
    """Replaces every "ip" member's value inside `value` in place; whether any was there."""
    found = False
    if isinstance(value, dict):
        for key in value:
            if key == "ip":
                value[key] = REDACTED_VALUE
                found = True
            elif isinstance(value[key], (dict, list)):
                found = _scrub(value[key]) or found
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                found = _scrub(item) or found
    return found


def redact_ip(payload: bytes) -> bytes:
    """The payload with the value of every "ip" member replaced by "<redacted>"."""
    if b'"ip"' not in payload and b"\\u00" not in payload:  # the hot path: nothing to look at
        return payload
    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return _IP_MEMBER.sub(lambda m: b'"ip"' + m.group(1) + REDACTED, payload)
    if not _scrub(parsed):
        return payload
    return orjson.dumps(parsed)
