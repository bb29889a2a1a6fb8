"""Rebuilds device_models.json and device_bots.json from matomo-org/device-detector (LGPL-3.0+).

    git clone https://github.com/matomo-org/device-detector /tmp/device-detector
    python transforms/data/refresh_devices.py /tmp/device-detector

Keeps, from regexes/device/*.yml, what decides a device's type: each brand's regex and type,
and the model regexes in order up to the last that sets a type of its own (a model that
sets none leaves the brand's type, so later ones cannot matter). Model names are not kept:
weir stores the type only. The parsers keep device-detector's order and gates (HbbTV and
"Shell" televisions first, Facebook's notebook fragment, then consoles, cars, cameras, media
players, phones and tablets). A regex RE2 cannot compile (a lookaround) is left out and
named in `_about.left_out`; transforms/devices.py matches the rest in linear time.
From regexes/bots.yml, the bot regexes in order (transforms/crawlers.py asks whether any
matches).

The file is a derived copy of LGPL data, shipped with the licence beside it
(LICENSE.device-detector.txt); running this script against another checkout replaces it.
"""

from __future__ import annotations

import os
import re
import shutil
import sys

import re2
import yaml
from _refresh import commit_of, write  # beside this script

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "device_models.json")
BOTS_OUT = os.path.join(HERE, "device_bots.json")
LICENCE_OUT = os.path.join(HERE, "LICENSE.device-detector.txt")

# device-detector's device parsers in DeviceDetector.php's order, with the fragment each
# needs before it looks (Parser/Device/HbbTv.php, ShellTv.php, Notebook.php) and the type it
# gives when it finds no brand (HbbTV and Shell parsers always say tv).
PARSERS = [
    ("televisions.yml", r"(?:HbbTV|SmartTvA)/[1-9](?:\.[0-9]){1,2}", "tv"),
    ("shell_tv.yml", r"[a-z]+[ _]Shell[ _]\w{6}|tclwebkit\d+[.\d]*", "tv"),
    ("notebooks.yml", r"FBMD/", None),
    ("consoles.yml", None, None),
    ("car_browsers.yml", None, None),
    ("cameras.yml", None, None),
    ("portable_media_player.yml", None, None),
    ("mobiles.yml", None, None),
]


def _compiles(regex: str) -> bool:
    opts = re2.Options()
    opts.log_errors = False
    try:
        re2.compile(regex, opts)
    except re2.error:
        return False
    return True


def _without_lookarounds(regex: str) -> str:
    """The regex with each (?=...), (?!...), (?<=...), (?<!...) group removed: it matches
    wherever the original does (and more), so RE2 can find the candidates in linear time."""
    out, i = [], 0
    while i < len(regex):
        if regex.startswith(("(?=", "(?!", "(?<=", "(?<!"), i) and (i == 0 or regex[i - 1] != "\\"):
            i = _group_end(regex, i)
            continue
        out.append(regex[i])
        i += 1
    return "".join(out)


def _class_end(regex: str, j: int) -> int:
    """The index just past the character class that opens at regex[j] ("[...]")."""
    j += 1
    if j < len(regex) and regex[j] == "^":
        j += 1
    if j < len(regex) and regex[j] == "]":
        j += 1  # a "]" first in a class is a literal
    while j < len(regex) and regex[j] != "]":
        j += 2 if regex[j] == "\\" else 1
    return j + 1


def _group_end(regex: str, i: int) -> int:
    """The index just past the group that opens at regex[i] (escapes and classes skipped)."""
    depth, j = 0, i
    while j < len(regex):
        if regex[j] == "\\":
            j += 2
            continue
        if regex[j] == "[":
            j = _class_end(regex, j)
            continue
        depth += {"(": 1, ")": -1}.get(regex[j], 0)
        j += 1
        if depth == 0:
            break
    return j


def _fixed_width_lookbehinds(regex: str) -> str:
    """PCRE allows (?<!ab|c), alternatives of different lengths; Python's re wants each
    lookbehind fixed: (?<!ab)(?<!c) means the same (and (?<=ab|c) is (?:(?<=ab)|(?<=c)))."""
    out, i = [], 0
    while i < len(regex):
        if regex.startswith(("(?<!", "(?<="), i) and (i == 0 or regex[i - 1] != "\\"):
            end = _group_end(regex, i)
            kind, body = regex[i : i + 4], regex[i + 4 : end - 1]
            alternatives = _top_level_split(body)
            if len(alternatives) > 1 and kind == "(?<!":
                out.append("".join(f"(?<!{a})" for a in alternatives))
            elif len(alternatives) > 1:
                out.append("(?:" + "|".join(f"(?<={a})" for a in alternatives) + ")")
            else:
                out.append(regex[i:end])
            i = end
            continue
        out.append(regex[i])
        i += 1
    return "".join(out)


def _top_level_split(body: str) -> list[str]:
    parts, depth, start, j = [], 0, 0, 0
    while j < len(body):
        c = body[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j = _class_end(body, j)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(body[start:j])
            start = j + 1
        j += 1
    parts.append(body[start:])
    return parts


def _entry(regex: str, device, left_out: list, what: str) -> list | None:
    """[regex, device type, the lookaround-free form or None]; None when neither engine takes it.

    A regex RE2 takes is kept as it is. One with lookarounds is kept in Python's re syntax
    (lookbehinds split to fixed width) with its lookaround-free form, which RE2 matches first
    so that Python's engine only ever confirms a candidate."""
    if _compiles(regex):
        return [regex, device, None]
    relaxed = _without_lookarounds(regex)
    regex = _fixed_width_lookbehinds(regex)
    try:
        re.compile(regex)
    except re.error:
        relaxed = ""
    if relaxed and _compiles(relaxed):
        return [regex, device, relaxed]
    left_out.append(f"{what}: {regex}")
    return None


def _brands(entries: dict, left_out: list) -> list:
    brands = []
    for brand, entry in entries.items():
        head = _entry(entry["regex"], entry.get("device"), left_out, str(brand))
        if head is None:
            continue
        models = []
        for model in entry.get("models") or []:
            kept = _entry(model["regex"], model.get("device"), left_out, f"{brand} model")
            if kept is None:
                # Leaving a model out would let a later one match in its place: stop here,
                # so the brand's own type stands, as when no model matches.
                break
            models.append(kept)
        while models and models[-1][1] is None:
            models.pop()  # a trailing model without a type of its own changes nothing
        brands.append([str(brand), *head, models])
    return brands


def _about(checkout: str, what: str, left_out: list) -> dict:
    return {
        "source": f"https://github.com/matomo-org/device-detector ({what})",
        "commit": commit_of(checkout),
        "licence": "LGPL-3.0-or-later (see LICENSE.device-detector.txt beside this file)",
        "refresh": "python transforms/data/refresh_devices.py <checkout of the source>",
        "left_out": left_out,
    }


def build_bots(checkout: str) -> dict:
    left_out: list = []
    with open(os.path.join(checkout, "regexes", "bots.yml"), encoding="utf-8") as fh:
        entries = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    kept = [_entry(e["regex"], None, left_out, e.get("name", "bot")) for e in entries]
    return {"_about": _about(checkout, "regexes/bots.yml", left_out), "regexes": [[k[0], k[2]] for k in kept if k]}


def build(checkout: str) -> dict:
    parsers, left_out = [], []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for name, gate, default in PARSERS:
        with open(os.path.join(checkout, "regexes", "device", name), encoding="utf-8") as fh:
            entries = yaml.load(fh, Loader=loader)
        parsers.append({"name": name, "gate": gate, "default": default, "brands": _brands(entries, left_out)})
    return {"_about": _about(checkout, "regexes/device/*.yml", left_out), "parsers": parsers}


if __name__ == "__main__":
    data = build(sys.argv[1])
    write(OUT, data)
    bots = build_bots(sys.argv[1])
    write(BOTS_OUT, bots)
    shutil.copyfile(os.path.join(sys.argv[1], "LICENSE"), LICENCE_OUT)
    brands = sum(len(p["brands"]) for p in data["parsers"])
    print(f"{OUT}: {brands} brands, {len(data['_about']['left_out'])} regexes left out")
    print(f"{BOTS_OUT}: {len(bots['regexes'])} regexes, {len(bots['_about']['left_out'])} left out")
