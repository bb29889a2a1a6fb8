"""Offline checks of the Flex Template (templates/): metadata.json and the job's options
describe the same parameters, rendered launches pass both, and Beam is pinned once."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from tests.test_infra import TF_DIR, tf  # noqa: F401  (tf is a fixture)
from weir import flex
from weir.pipelines.options import WeirOptions

ROOT = os.path.join(os.path.dirname(__file__), "..")
TEMPLATES = os.path.join(ROOT, "templates")
BEAM_OPTIONS = {"sdk_container_image"}  # Beam's own options the template declares


def weir_options() -> dict[str, argparse.Action]:
    parser = argparse.ArgumentParser()
    WeirOptions._add_argparse_args(parser)
    return {a.dest: a for a in parser._actions if a.dest != "help"}


@pytest.fixture(scope="module")
def metadata() -> dict:
    return flex.load_metadata()


def test_every_option_is_a_described_parameter_and_back(metadata):
    declared = {p["name"]: p for p in metadata["parameters"]}
    assert set(declared) - BEAM_OPTIONS == set(weir_options())
    for name, p in declared.items():
        assert p["label"] and len(p["helpText"]) > 20 and p["regexes"], name
        assert isinstance(p["isOptional"], bool)
    known = PipelineOptions([]).get_all_options()
    assert all(name in known for name in declared)  # the launcher passes --name=value; the job accepts it


def test_defaults_and_choices_satisfy_the_regexes(metadata):
    declared = {p["name"]: p for p in metadata["parameters"]}
    for name, action in weir_options().items():
        values = list(action.choices or []) + ([action.default] if action.default is not None else [])
        for value in values:
            for regex in declared[name]["regexes"]:
                assert re.fullmatch(regex, str(value)), (name, value, regex)


@pytest.mark.parametrize(
    "params, complaint",
    [
        ({"mode": "batch"}, "mode="),
        ({"mode": "rebuild", "input": "gs://bucket/raw/*.avro", "date": "2026-02-30x"}, "date="),
        ({"mode": "rebuild", "input": "/local/path"}, "input="),
        ({"mode": "rebuild"}, "input: required"),
        ({"mode": "stream", "archive": "gs://bucket/raw"}, "subscription: required"),
        ({"mode": "stream", "archive": "gs://bucket/raw", "subscription": "events-sub"}, "subscription="),
        ({"mode": "rebuild", "input": "gs://bucket/raw/*", "colour": "blue"}, "colour: not a parameter"),
        ({"mode": "rebuild", "input": "gs://bucket/raw/*", "early_s": "0"}, "early_s="),
        (  # passes the regexes; the job's own validation catches it
            {
                "mode": "stream",
                "archive": "gs://bucket/raw",
                "archive_window_s": "7",
                "subscription": "projects/proj-123/subscriptions/s12",
            },
            "divide an hour",
        ),
    ],
)
def test_bad_launches_are_refused_before_launch(metadata, params, complaint):
    found = flex.problems(params, metadata)
    assert any(complaint in p for p in found), found


def test_rendered_stream_and_rebuild_launches_pass_metadata_and_options(metadata):
    image = "europe-west1-docker.pkg.dev/my-proj/weir/weir:abc123"
    stream = flex.stream_parameters("my-proj", "gs://my-proj-weir-archive/raw", sdk_container_image=image)
    rebuild = flex.rebuild_parameters(
        "gs://my-proj-weir-archive/raw/dt=2026-11-21/*/*.avro", "2026-11-21", sdk_container_image=image
    )
    for params in (stream, rebuild):
        assert flex.problems(params, metadata) == []
        opts = PipelineOptions([f"--{k}={v}" for k, v in params.items()]).view_as(WeirOptions)
        assert opts.mode == params["mode"] and opts.dataset == "web_analytics"
    cmd = flex.run_command("weir-rebuild", "gs://b/t.json", "europe-west1", "my-proj", rebuild)
    assert cmd[:4] == ["gcloud", "dataflow", "flex-template", "run"]
    given = dict(kv.split("=", 1) for kv in cmd[-1].removeprefix("--parameters=").split(","))
    assert given == rebuild


def test_values_with_commas_use_an_alternate_separator():
    params = {"mode": "rebuild", "input": "gs://b/raw/{a,b}/*.avro"}
    arg = flex.run_command("j", "gs://b/t.json", "r", "p", params)[-1]
    assert arg == "--parameters=^~^mode=rebuild~input=gs://b/raw/{a,b}/*.avro"


def test_terraform_streaming_job_parameters_are_template_parameters(tf, metadata):  # noqa: F811
    job = tf["resource"][("google_dataflow_flex_template_job", "stream")]
    declared = {p["name"] for p in metadata["parameters"]}
    assert set(job["parameters"]) <= declared
    assert set(flex.REQUIRED["stream"]) <= set(job["parameters"])


def test_beam_is_pinned_once(tmp_path):
    check = [sys.executable, os.path.join(TEMPLATES, "check_beam_pin.py"), "--setup", os.path.join(ROOT, "setup.py")]
    ok = subprocess.run(
        check
        + ["--requirements", os.path.join(TEMPLATES, "requirements.txt")]
        + ["--dockerfile", os.path.join(TEMPLATES, "Dockerfile"), "--installed"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    other = tmp_path / "requirements.txt"
    other.write_text("apache-beam[gcp]==2.70.0\n")
    bad = subprocess.run(check + ["--requirements", str(other)], capture_output=True, text=True)
    assert bad.returncode == 1 and "2.70.0" in bad.stderr


def test_image_carries_every_package_and_runs_the_entry_point():
    dockerfile = open(os.path.join(TEMPLATES, "Dockerfile")).read()
    setup = open(os.path.join(ROOT, "setup.py")).read()
    mapped = re.findall(r'"(\w+)"', re.search(r"^MAPPED = \(([^)]*)\)", setup, re.M).group(1))
    for folder in ["weir", *mapped]:  # every folder setup.py installs from
        assert f"COPY {folder} /src/{folder}" in dockerfile, folder
    assert "pip install --no-cache-dir --no-deps /src" in dockerfile
    assert not re.search(r"^FROM .*:latest", dockerfile, re.M)  # the launcher is a dated release
    assert re.search(r"LAUNCHER_TAG=flex_templates_base_image_release_\d{8}_RC\d\d", dockerfile)
    assert "ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/main.py" in dockerfile
    assert "COPY templates/main.py" in dockerfile and "pip check" in dockerfile
    requirements = open(os.path.join(TEMPLATES, "requirements.txt")).read()
    pinned = {re.split(r"[\[=]", line)[0].lower() for line in requirements.splitlines() if "==" in line}
    declared = re.search(r"install_requires=\[(.*?)\n    \]", setup, re.S).group(1)
    wanted = {re.split(r"[\[<>=]", m)[0].lower() for m in re.findall(r'"([^"]+)"', declared)}
    wanted |= {"apache-beam"}
    assert pinned == wanted  # every dependency pinned for the image, nothing extra
    assert all("==" in line for line in requirements.splitlines() if line and not line.startswith("#"))


PROBE = r"""
import sys
import weir.cli, weir.collector.server, weir.collector.geo, weir.collector.cookieless, weir.tracker
from google.cloud import pubsub_v1  # the relay's, imported when it first publishes
import iptocc, maxminddb
print("\n".join(sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""})))
"""


def _name(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def test_the_collector_image_has_what_weir_collect_imports_and_nothing_of_beam():
    """templates/collector.Dockerfile installs collector-requirements.txt and weir with --no-deps:
    every distribution whose modules `weir collect` imports must be one of those or what they
    require, and the image's pins must be the suite's."""
    from importlib import metadata

    from packaging.requirements import Requirement

    dockerfile = open(os.path.join(TEMPLATES, "collector.Dockerfile")).read()
    setup = open(os.path.join(ROOT, "setup.py")).read()
    mapped = re.findall(r'"(\w+)"', re.search(r"^MAPPED = \(([^)]*)\)", setup, re.M).group(1))
    for folder in ["weir", *mapped]:
        assert f"COPY {folder} /src/{folder}" in dockerfile, folder
    assert re.search(r"^FROM python:\d+\.\d+\.\d+-slim-\w+$", dockerfile, re.M)  # an exact Python release
    assert "pip install --no-cache-dir --no-deps /src" in dockerfile
    pins = {}
    for line in open(os.path.join(TEMPLATES, "collector-requirements.txt")):
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==")
            pins[_name(name)] = version
    for name, version in pins.items():  # what the suite ran with
        assert metadata.version(name) == version or name == "uvicorn", (name, metadata.version(name), version)
    # The closure of what those pins pull in, as pip would install it.
    installed, todo = set(), list(pins)
    while todo:
        name = todo.pop()
        if name in installed:
            continue
        installed.add(name)
        for spec in metadata.requires(name) or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_name(req.name))
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd="/")
    owners: dict[str, set] = {}  # each installed file -> the distributions it came with
    for dist in metadata.distributions():
        for file in dist.files or []:
            owners.setdefault(os.path.realpath(dist.locate_file(file)), set()).add(_name(dist.metadata["Name"]))
    files = {
        os.path.realpath(f): owners[os.path.realpath(f)]
        for f in out.stdout.split("\n")
        if os.path.realpath(f) in owners
    }
    loaded = list(files.values())

    def shared_namespace(path: str) -> bool:  # backports/__init__.py: one owner, many packages inside
        inside = os.path.dirname(path) + os.sep
        return path.endswith("__init__.py") and any(p.startswith(inside) and d & installed for p, d in files.items())

    needed = {
        name for path, dists in files.items() if not dists & installed and not shared_namespace(path) for name in dists
    }
    assert {"iptocc", "google-cloud-pubsub"} <= {d for dists in loaded for d in dists}  # the probe saw them
    # Imported when present, guarded when not: anyio tries sniffio, urllib3 backports.zstd (which
    # loads the `backports` namespace of whatever ships one); setuptools is the venv's site hook.
    assert needed - {"weir-analytics", "sniffio", "backports-tarfile", "setuptools"} == set()
    assert "apache-beam" not in installed and "duckdb" not in installed
