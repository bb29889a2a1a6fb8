"""An ordered list of device-detector regexes, matched in linear time: first(ua) -> index.

device-detector (data/device_models.json, data/device_bots.json) decides by the first regex
of a list that matches, each with the same left boundary (_WRAP). Its regexes are written for
PCRE; ~100 use lookarounds, which RE2 does not have.

All regexes of a list are one RE2 FilteredRE2: the literal strings each regex needs are found
first, then only the regexes whose strings are all present run, each in RE2's linear time
(~0.07 ms for a user agent never seen before, where one RE2 set of ~2,000 regexes took 2-10 ms
building DFA states for each new string). A regex with lookarounds is in the filter without
them (a superset, worked out by data/refresh_devices.py) and a candidate among them is
confirmed by Python's engine, on at most MAX_CONFIRM_CHARS characters: so no request can make
a worker backtrack for long.
"""

from __future__ import annotations

import re

import re2

# device-detector's left boundary (Parser/AbstractParser.php, matchUserAgent): the match
# starts the string or follows a character that cannot be part of a name.
_WRAP = "(?:^|[^A-Z0-9_-]|[^A-Z0-9-]_|sprd-|MZ-)(?:{})"
# A real user agent is a few hundred characters; a longer one is only confirmed by RE2.
MAX_CONFIRM_CHARS = 512


def options() -> re2.Options:
    opts = re2.Options()
    opts.case_sensitive = False  # device-detector matches with /i
    opts.max_mem = 64 << 20  # a brand's regex can be long; RE2's default 8 MB is for one small regex
    opts.log_errors = False
    return opts


def compile_one(regex: str):
    """One device-detector regex, wrapped like the list's, in RE2."""
    return re2.compile(_WRAP.format(regex), options())


class RegexList:
    """Regexes in their order: [regex, relaxed] pairs (relaxed: the lookaround-free form, or None)."""

    def __init__(self, entries) -> None:
        self._filter = re2.Filter()
        opts = options()
        for regex, relaxed in entries:
            self._filter.Add(_WRAP.format(relaxed or regex), opts)
        self._filter.Compile()
        self._confirm = {
            i: re.compile(_WRAP.format(regex), re.IGNORECASE) for i, (regex, relaxed) in enumerate(entries) if relaxed
        }

    def first(self, ua: str) -> int | None:
        """The index of the first regex that matches ua, or None."""
        for i in sorted(self._filter.Match(ua) or ()):
            confirm = self._confirm.get(i)
            if confirm is None or (len(ua) <= MAX_CONFIRM_CHARS and confirm.search(ua)):
                return i
        return None
