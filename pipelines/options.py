"""The job's options: one `PipelineOptions` subclass, validated before the graph is built.

The same names are the Flex Template's parameters (templates/metadata.json) and `weir`'s
flags, so a job is described the same way everywhere.
"""

from __future__ import annotations

import datetime as dt

from apache_beam.options.pipeline_options import PipelineOptions

import schemas
from transforms.dedupe import DEFAULT_HORIZON_S


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
            help="Streaming: seconds (event time) an event_id is remembered for dedupe.",
        )


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
