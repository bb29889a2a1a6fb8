"""What an installed copy holds (issue #15): one import package, `weir`, with its data files.

setup.py's build step lays out exactly what a wheel (and so a `pip install .`, a Dataflow
worker and the Flex Template image) puts in site-packages; the tests read that layout and
import from it, away from the source tree.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    lib = tmp_path_factory.mktemp("build") / "lib"
    temp = tmp_path_factory.mktemp("build-temp")
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib), "egg_info", "--egg-base", str(temp)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return lib


def test_one_top_level_package(built):
    assert sorted(os.listdir(built)) == ["weir"]  # no pipelines/, transforms/ or schemas/ beside it


def test_the_installed_copy_imports_and_finds_its_data(built, tmp_path):
    code = (
        "import weir.pipelines.graph as g, weir.schemas as s, weir.transforms.referrers as r\n"
        "print(g.__file__)\n"
        "print(len(s.tables()) + len(s.settings_tables()), len(s.archive_record_schema()['fields']))\n"
        "print(r.classify('https://www.google.com/search?q=x', 'news.example', 'news.example')[0])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(built)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    path, counts, category = out.stdout.splitlines()
    assert path.startswith(str(built))  # the built copy, not the source tree
    assert counts.split()[0] == str(len(os.listdir(os.path.join(REPO, "schemas", "bigquery"))))
    assert category == "search"
