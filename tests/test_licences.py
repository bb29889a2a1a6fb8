"""Licences: the project's (LICENSE, Apache-2.0), and NOTICE naming every third-party data
file the package ships, with the licence texts they need beside them."""

from __future__ import annotations

import glob
import json
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The licence each data file records (its _about) -> how NOTICE names it.
LICENCE_WORDS = {"MIT": "MIT License", "CC0": "CC0 1.0", "LGPL-3.0": "Lesser General Public License v3.0"}


def test_every_shipped_data_file_is_in_notice_with_its_source_and_licence():
    notice = open(os.path.join(REPO, "NOTICE"), encoding="utf-8").read()
    data = sorted(glob.glob(os.path.join(REPO, "transforms", "data", "*.json")))
    assert data
    for path in data:
        name = os.path.relpath(path, REPO)
        assert name in notice, f"{name} is shipped but NOTICE does not name it"
        about = json.load(open(path, encoding="utf-8"))["_about"]
        assert about["commit"] in notice, f"NOTICE gives another commit than {name} records"
        named = next(words for prefix, words in LICENCE_WORDS.items() if about["licence"].startswith(prefix))
        entry = notice[notice.index(name) :].split("\n\n")[0]  # the file's paragraph
        assert named in entry, f"NOTICE's entry for {name} does not say {named}"


def test_licence_texts_the_notice_points_to_are_there():
    notice = open(os.path.join(REPO, "NOTICE"), encoding="utf-8").read()
    for text in ("transforms/data/LICENSE.device-detector.txt", "transforms/data/LICENSE.gpl-3.0.txt"):
        assert text in notice and os.path.getsize(os.path.join(REPO, text)) > 5000
    assert "Apache License" in open(os.path.join(REPO, "LICENSE"), encoding="utf-8").read(200)
    setup = open(os.path.join(REPO, "setup.py"), encoding="utf-8").read()
    assert 'license="Apache-2.0"' in setup and "license_files" in setup
