"""The job's options: one `PipelineOptions` subclass, validated before the graph is built.

The same names are the Flex Template's parameters (templates/metadata.json) and `weir`'s
flags, so a job is described the same way everywhere.
"""

from __future__ import annotations

import datetime as dt
import re

from apache_beam.options.pipeline_options import PipelineOptions

import schemas
from transforms.dedupe import DEFAULT_HORIZON_S
from transforms.windowing import DEFAULT_ALLOWED_LATENESS_S, DEFAULT_EARLY_S

# Runner names that run in this process; anything else (DataflowRunner) runs remotely.
LOCAL_RUNNERS = frozenset({"DirectRunner", "FnApiRunner", "BundleBasedDirectRunner"})

ARCHIVE_WINDOW_S = 300
ARCHIVE_SHARDS = 8


SUBSCRIPTION_PATH = re.compile(
    r"projects/[a-z][-a-z0-9:.]{4,61}[a-z0-9]/subscriptions/[A-Za-z][-A-Za-z0-9_.~+%]{2,254}"
)


class WeirOptions(PipelineOptions):
    """weir's own options (Beam's --runner, --project, --region, ... come alongside)."""

    @classmethod
    def _add_argparse_args(cls, parser):
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
        parser.add_argument("--date", default=None, help="Rebuild only this UTC day (YYYY-MM-DD).")
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
            help="Stream on Dataflow: root of the raw archive the job writes (gs://BUCKET/PATH).",
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


def unknown_flags(flags: list[str]) -> list[str]:
    """The flags no Beam or weir option class knows (what Beam would discard with a warning)."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    classes: dict = {}
    for cls in PipelineOptions.__subclasses__():  # as Beam's own get_all_options does
        classes.setdefault(str(cls), cls)
    for cls in classes.values():
        cls._add_argparse_args(parser)
    _, unknown = parser.parse_known_args(flags)
    return [f for f in unknown if f.startswith("-")]


def refuse_unknown_flags(flags: list[str], known: tuple[str, ...] = ()) -> None:
    """Raises ValueError naming flags no option knows, with the nearest known flag: Beam only
    warns and drops them, and a typo (`--day` for `--date`) then ran on other input than meant."""
    import difflib

    unknown = unknown_flags(flags)
    if not unknown:
        return
    hints = []
    for flag in unknown:
        name = flag.split("=", 1)[0]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    raise ValueError(f"unrecognized arguments: {', '.join(hints)}")


def validate_rebuild(opts: WeirOptions) -> None:
    """Raises ValueError with a message a user can act on."""
    if not opts.input:
        raise ValueError("a rebuild needs --input PATH_OR_GLOB")
    if opts.date is not None:
        try:
            dt.date.fromisoformat(opts.date)
        except ValueError:
            raise ValueError(f"--date must be YYYY-MM-DD, got {opts.date!r}") from None
    if opts.dedupe_horizon_s <= 0:
        raise ValueError("--dedupe_horizon_s must be positive")


def validate_stream(opts: WeirOptions) -> None:
    """The Dataflow stream's options; raises ValueError with a message a user can act on."""
    if not opts.subscription or not SUBSCRIPTION_PATH.fullmatch(opts.subscription):
        raise ValueError("a stream needs --subscription projects/PROJECT/subscriptions/NAME")
    if not opts.archive:
        raise ValueError("a stream needs --archive ROOT (gs://...): every message is archived")
    for name in ("dedupe_horizon_s", "early_s", "archive_window_s", "archive_shards"):
        if getattr(opts, name) <= 0:
            raise ValueError(f"--{name} must be positive")
    if opts.allowed_lateness_s < 0:
        raise ValueError("--allowed_lateness_s must be >= 0")
    if 3600 % opts.archive_window_s:
        raise ValueError("--archive_window_s must divide an hour (a window's files stay in one hour directory)")
