"""The job's options: one `PipelineOptions` subclass, validated before the graph is built.

Every flag of both modes is declared once (`weir.pipelines.flags.declare`, Beam-free so the
CLI can use it). The same names, types, defaults and help are `WeirOptions`, the Flex
Template's parameters (templates/metadata.json, checked by a test) and `weir`'s flags, so a
job is described the same way everywhere. Every route to a graph goes flags -> `PipelineOptions` ->
`validate` -> `graph_config`:

    weir rebuild / weir stream (CLI)  --pipeline_flags-->  PipelineOptions  --validate-->  graph_config
    Flex Template launch (pipelines.main) ----------------^
"""

from __future__ import annotations

import datetime as dt
import re

from apache_beam.options.pipeline_options import PipelineOptions

from weir.pipelines.flags import declare
from weir.pipelines.graph import GraphConfig
from weir.transforms.sitetime import SiteZones, check_zone
from weir.transforms.timeutil import day_to_ms
from weir.usage import UsageError

SUBSCRIPTION_PATH = re.compile(
    r"projects/[a-z][-a-z0-9:.]{4,61}[a-z0-9]/subscriptions/[A-Za-z][-A-Za-z0-9_.~+%]{2,254}"
)


class WeirOptions(PipelineOptions):
    """weir's own options (Beam's --runner, --project, --region, ... come alongside); declared
    in `weir.pipelines.flags`."""

    @classmethod
    def _add_argparse_args(cls, parser):
        declare(parser)


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
    raise UsageError(f"unrecognized arguments: {', '.join(hints)}")


def validate(opts: WeirOptions, remote: bool = False) -> None:
    """Raises ValueError with a message a user can act on. `remote`: a stream on Dataflow, which
    also needs its subscription and archive (the local stream derives both from WEIR_HOME)."""
    if opts.dedupe_horizon_s <= 0:
        raise UsageError("--dedupe_horizon_s must be positive")
    if opts.mode == "rebuild":
        if not opts.input and not (opts.date and opts.archive):
            raise UsageError("a rebuild needs --input PATH_OR_GLOB, or --date with the archive's root (--archive)")
        if opts.date is not None:
            try:
                dt.date.fromisoformat(opts.date)
            except ValueError:
                raise UsageError(f"--date must be YYYY-MM-DD, got {opts.date!r}") from None
        if opts.timezone is not None:
            if opts.date is None:
                raise UsageError("--timezone goes with --date (the sites of one zone, on one day)")
            check_zone(opts.timezone)
        site_zones(opts)
        return
    if opts.early_s <= 0:
        raise UsageError("--early_s must be positive")
    if opts.allowed_lateness_s < 0:
        raise UsageError("--allowed_lateness_s must be >= 0")
    if not remote:
        return
    if not opts.subscription or not SUBSCRIPTION_PATH.fullmatch(opts.subscription):
        raise UsageError("a stream needs --subscription projects/PROJECT/subscriptions/NAME")
    if not opts.archive:
        raise UsageError("a stream needs --archive ROOT (gs://...): every message is archived")
    for name in ("archive_window_s", "archive_shards"):
        if getattr(opts, name) <= 0:
            raise UsageError(f"--{name} must be positive")
    if 3600 % opts.archive_window_s:
        raise UsageError("--archive_window_s must divide an hour (a window's files stay in one hour directory)")


def site_zones(opts: WeirOptions) -> SiteZones:
    """The sites' zones from --site_zones (JSON); ValueError naming what is wrong."""
    import json

    if not opts.site_zones:
        return SiteZones()
    try:
        mapping = json.loads(opts.site_zones)
    except ValueError:
        raise UsageError("--site_zones must be a JSON object of site -> IANA time zone") from None
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise UsageError("--site_zones must be a JSON object of site -> IANA time zone")
    return SiteZones.of(mapping)


def graph_config(opts: WeirOptions) -> GraphConfig:
    """The one translation of options into the graph's configuration, for both modes."""
    if opts.mode == "stream":
        return GraphConfig(
            streaming=True,
            dedupe_horizon_s=opts.dedupe_horizon_s,
            allowed_lateness_s=opts.allowed_lateness_s,
            early_s=opts.early_s,
        )
    return GraphConfig(
        days=frozenset([opts.date]) if opts.date else frozenset(),
        zones=site_zones(opts),
        scope_zone=opts.timezone if opts.date else None,
        fallback_received_ms=day_to_ms(opts.date) if opts.date else 0,
    )
