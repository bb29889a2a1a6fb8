"""Every flag of the job, declared once, without Apache Beam.

`declare` is the one declaration: `WeirOptions` (the job's `PipelineOptions`) calls it, the
Flex Template's parameters (templates/metadata.json) carry the same names (a test checks),
and the CLI copies the declarations it needs with `add_flags`, so a flag has one name, type,
default and help wherever a job is described. This module imports no Beam, so building the
CLI's parser (and so `weir sql`) stays fast.
"""

from __future__ import annotations

import argparse
import copy

from weir import schemas
from weir.transforms.defaults import DEFAULT_ALLOWED_LATENESS_S, DEFAULT_EARLY_S, DEFAULT_HORIZON_S

# Runner names that run in this process; anything else (DataflowRunner) runs remotely.
LOCAL_RUNNERS = frozenset({"DirectRunner", "FnApiRunner", "BundleBasedDirectRunner"})

ARCHIVE_WINDOW_S = 300
ARCHIVE_SHARDS = 8

# Which flags each way of running takes (the CLI declares these with add_flags).
REBUILD_FLAGS = ("input", "date", "timezone", "archive", "staging")  # a rebuild dedupes its whole input: no horizon
LOCAL_STREAM_FLAGS = ("allowed_lateness_s", "early_s", "dedupe_horizon_s")
DATAFLOW_STREAM_FLAGS = (*LOCAL_STREAM_FLAGS, "subscription", "archive", "archive_window_s", "archive_shards")


def declare(parser: argparse.ArgumentParser) -> None:
    """Adds every flag of both modes to `parser` (Beam's option parser or a plain one)."""
    parser.add_argument(
        "--mode",
        choices=("rebuild", "stream"),
        default="rebuild",
        help="rebuild: batch over archive files; stream: from Pub/Sub.",
    )
    parser.add_argument(
        "--input",
        action="append",
        default=None,
        help="Rebuild input: a path or glob (local or gs://), JSON lines or Avro. Repeatable.",
    )
    parser.add_argument(
        "--date",
        default=None,
        help=(
            "Rebuild only this day (YYYY-MM-DD), each site's in its own time zone. Without --input, "
            "reads the archive hours (under --archive) that can hold the day's records."
        ),
    )
    parser.add_argument(
        "--timezone",
        default=None,
        help="Rebuild with --date: only the sites whose time zone is this one (UTC holds every site not set).",
    )
    parser.add_argument(
        "--site_zones",
        default=None,
        help=(
            'Each site\'s time zone as JSON ({"example.com": "America/New_York"}); sites not named are UTC. '
            "Read from the sites table when not given."
        ),
    )
    parser.add_argument("--dataset", default=schemas.DEFAULT_DATASET, help="BigQuery dataset of the tables.")
    parser.add_argument(
        "--staging",
        default=None,
        help="Where a rebuild stages table files before committing them (local path or gs://).",
    )
    parser.add_argument(
        "--dedupe_horizon_s",
        type=int,
        default=DEFAULT_HORIZON_S,
        help=(
            "Streaming: seconds (event time) an event is remembered for dedupe; raised to at least "
            "300 + allowed lateness + 600, the span in which a copy can still be accepted."
        ),
    )
    parser.add_argument(
        "--subscription",
        default=None,
        help="Stream: the Pub/Sub subscription, projects/PROJECT/subscriptions/NAME.",
    )
    parser.add_argument(
        "--archive",
        default=None,
        help=(
            "Root of the raw archive: a stream on Dataflow writes it (gs://BUCKET/PATH); a rebuild with "
            "--date and no --input reads the day's hours from it."
        ),
    )
    parser.add_argument(
        "--allowed_lateness_s",
        type=int,
        default=DEFAULT_ALLOWED_LATENESS_S,
        help="Stream: seconds after a 5-minute bucket ends that its events still count live.",
    )
    parser.add_argument(
        "--early_s",
        type=int,
        default=DEFAULT_EARLY_S,
        help="Stream: seconds of processing time between early firings of the current bucket.",
    )
    parser.add_argument(
        "--archive_window_s",
        type=int,
        default=ARCHIVE_WINDOW_S,
        help="Stream on Dataflow: seconds of receive time per archive file window.",
    )
    parser.add_argument(
        "--archive_shards",
        type=int,
        default=ARCHIVE_SHARDS,
        help="Stream on Dataflow: archive files written in parallel per window.",
    )


def _declared() -> dict[str, argparse.Action]:
    parser = argparse.ArgumentParser(add_help=False)
    declare(parser)
    return {a.dest: a for a in parser._actions}


def add_flags(parser: argparse.ArgumentParser, names: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
    """Declares the named flags on a CLI parser with their own names, types, defaults and
    help (a copy of each declaration, so the two cannot drift apart)."""
    declared = _declared()
    for name in names:
        action = copy.copy(declared[name])
        action.required = name in required
        parser._add_action(action)


def pipeline_flags(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """The named flags' values on a parsed CLI namespace, as the flags a job parses."""
    flags = []
    for name in names:
        value = getattr(args, name, None)
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                flags.append(f"--{name}={v}")
    return flags


def changed(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """The named flags whose value on `args` is not their declared default."""
    declared = _declared()
    return [f"--{n}" for n in names if getattr(args, n, None) != declared[n].default]
