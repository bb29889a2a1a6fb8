"""Packaging for weir: the pipeline packages, the schemas as package data, the `weir` CLI.

Everything installs under the one import package `weir`: the top-level folders pipelines/,
transforms/, schemas/ and tracker/ (kept where the design puts them) are mapped by `package_dir`
to `weir.pipelines`, `weir.transforms`, `weir.schemas` and `weir.tracker`, so no generic top-level name lands in a
user's site-packages. The distribution is `weir-analytics` (the name `weir` on PyPI belongs
to an unrelated project); the command stays `weir`.

Dataflow workers install the job's code from this file (`--setup_file`), so everything the
graph imports on a worker must be listed here. Apache Beam is pinned once, in BEAM_VERSION;
templates/Dockerfile reads the same pin (see templates/README.md).
"""

from setuptools import find_packages, setup

BEAM_VERSION = "2.77.0"
DISTRIBUTION = "weir-analytics"
MAPPED = ("pipelines", "transforms", "schemas", "tracker")  # folder at the top level -> weir.<folder>

setup(
    name=DISTRIBUTION,
    version="0.1.0",
    description="Open web content analytics: pixel events in, per-URL time series out (Beam + BigQuery).",
    license="Apache-2.0",
    license_files=["LICENSE", "NOTICE", "transforms/data/LICENSE.*"],
    python_requires=">=3.10",
    packages=[*find_packages(include=["weir", "weir.*"]), *(f"weir.{m}" for m in MAPPED), "weir.pipelines.local"],
    package_dir={"weir": "weir", **{f"weir.{m}": m for m in MAPPED}},
    package_data={
        "weir.schemas": ["*.json", "*.avsc", "bigquery/*.json", "views/*.sql"],
        "weir.transforms": ["data/*.json", "data/*.txt"],
        "weir.serve": ["static/*"],
        "weir.tracker": ["weir.js"],
        "weir": ["py.typed"],  # PEP 561: weir's annotations are for its users' checkers too
    },
    install_requires=[
        # Beam without its [gcp] extra: the local product reads and writes files, the Pub/Sub
        # emulator and DuckDB, and the three Google Cloud clients below are listed themselves.
        # Dataflow (--runner DataflowRunner, the Flex image) needs the extra: weir-analytics[gcp].
        f"apache-beam=={BEAM_VERSION}",
        "duckdb>=1.1,<3",
        "sqlglot>=26,<31",
        "fastavro>=1.9,<2",
        "orjson>=3.9,<4",
        "tzdata>=2024.1",  # the IANA zones, for sites' calendars where the system has none (transforms/sitetime.py)
        "zstandard>=0.22,<1",  # a rebuild's dedupe groups compressed events (transforms/dedupe.py)
        "zetasketch-py==0.1.3",
        "pyfarmhash>=0.4,<1",
        "ua-parser[regex]>=1.0,<2",
        "publicsuffixlist>=1.0",
        "ada-url>=1.15,<5",  # the URL standard's host parser (transforms/urls.host_of)
        "crawlerdetect>=0.4,<1",  # its patterns; matched by google-re2 (transforms/crawlers.py)
        "google-re2>=1.1,<2",
        "google-cloud-bigquery>=3.20,<4",
        "google-cloud-storage>=2.14,<4",
        "google-cloud-pubsub>=2.20,<3",
        "drongo==0.8.0",
        "matplotlib>=3.8,<4",  # weir plot
        "starlette>=0.40,<2",  # weir collect
        # The collector's country lookup: the Regional Internet Registries' data inside the wheel,
        # pinned because the data is the release (weir/collector/geo.py); maxminddb reads an
        # operator's own MaxMind-format database.
        "iptocc==3.3.170",
        "maxminddb>=2.5,<4",
        "prometheus-client>=0.20,<1",  # the collector's /metrics
        "tqdm>=4.66,<5",  # progress of long work on a terminal
        "uvicorn>=0.30,<1",  # PyPI-only Pub/Sub emulator where the official one is not installed
    ],
    extras_require={
        "gcp": [f"apache-beam[gcp]=={BEAM_VERSION}"],
        "test": [
            f"apache-beam[gcp]=={BEAM_VERSION}",  # the suite builds the Dataflow graphs too
            "pytest>=8",
            "hypothesis>=6.100,<7",  # property tests of hostile input (tests/test_hostile_records.py)
            "websockets>=12,<18",  # the dashboard test drives Chromium over DevTools (tests/cdp.py)
            "ruff>=0.5",
            "gcp-storage-emulator==2026.7.19",
            "httpx>=0.27",
            "python-hcl2>=7,<9",
            "mmdb-writer==0.2.7",
            "mypy==1.15.0",  # .ci/typecheck  # writes the test's MaxMind-format database (tests/test_proxies.py)
        ],
    },
    entry_points={"console_scripts": ["weir = weir.cli:main"]},
)
