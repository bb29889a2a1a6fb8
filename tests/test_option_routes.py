"""One route for options (issue #15): a flag has one name, type, default and help whether it
reaches the graph from `weir`, from a Flex Template launch or from a Dataflow submission, and
one function turns options into the graph's configuration."""

from __future__ import annotations

import datetime as dt

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from weir import flex
from weir.cli import parser
from weir.pipelines.flags import DATAFLOW_STREAM_FLAGS, REBUILD_FLAGS, _declared, pipeline_flags
from weir.pipelines.options import WeirOptions, graph_config, validate


def _sub(name):
    return parser()._subparsers._group_actions[0].choices[name]


@pytest.mark.parametrize("command, names", [("stream", DATAFLOW_STREAM_FLAGS), ("rebuild", REBUILD_FLAGS)])
def test_the_cli_declares_the_jobs_own_flags(command, names):
    declared = _declared()
    cli = {a.dest: a for a in _sub(command)._actions if a.help != "==SUPPRESS=="}
    for name in names:
        assert cli[name].option_strings == [f"--{name}"]
        assert (cli[name].default, cli[name].type, cli[name].help) == (
            declared[name].default,
            declared[name].type,
            declared[name].help,
        )


def test_the_old_spellings_still_parse():
    args = parser().parse_args(["stream", "--allowed-lateness", "60", "--early", "2"])
    assert (args.allowed_lateness_s, args.early_s) == (60, 2)
    args = parser().parse_args(["stream"])
    assert (args.allowed_lateness_s, args.early_s) == (_declared()["allowed_lateness_s"].default, 5)


def test_cli_and_template_routes_give_the_same_graph_config():
    args = parser().parse_args(["stream", "--allowed_lateness_s", "120", "--early_s", "3", "--dedupe_horizon_s", "900"])
    from_cli = PipelineOptions(["--mode=stream", *pipeline_flags(args, DATAFLOW_STREAM_FLAGS)])
    params = flex.stream_parameters("p", "gs://b/raw", allowed_lateness_s=120, early_s=3, dedupe_horizon_s=900)
    from_template = PipelineOptions([f"--{k}={v}" for k, v in params.items()])
    config = graph_config(from_cli.view_as(WeirOptions))
    assert config == graph_config(from_template.view_as(WeirOptions))
    assert (config.streaming, config.allowed_lateness_s, config.early_s, config.dedupe_horizon_s) == (True, 120, 3, 900)


def test_a_rebuilds_config_comes_from_its_date():
    opts = PipelineOptions(["--input=x.avro", "--date=2026-11-30"]).view_as(WeirOptions)
    config = graph_config(opts)
    assert not config.streaming and config.days == frozenset({"2026-11-30"})
    midnight = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)
    assert config.fallback_received_ms == int(midnight.timestamp() * 1000)


@pytest.mark.parametrize(
    "flags, remote, complaint",
    [
        (["--mode=stream", "--early_s=0"], False, "--early_s must be positive"),
        (["--mode=stream", "--allowed_lateness_s=-1"], False, "--allowed_lateness_s must be >= 0"),
        (["--mode=stream"], True, "needs --subscription"),
        (["--mode=rebuild"], False, "needs --input"),
    ],
)
def test_one_validation_for_every_route(flags, remote, complaint):
    with pytest.raises(ValueError, match=complaint):
        validate(PipelineOptions(flags).view_as(WeirOptions), remote=remote)


def test_a_local_stream_refuses_dataflow_only_flags(capsys):
    from weir.cli import main

    assert main(["stream", "--archive", "gs://b/raw", "--home", "/nonexistent-weir-home"]) == 2
    assert "--archive: only for a stream on Dataflow" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, remote, expected",
    [
        (["--input=x"], None, "/home/staging"),
        (["--input=x", "--staging=/s"], None, "/s"),
        (["--input=x", "--runner=DataflowRunner", "--temp_location=gs://b/tmp/"], None, "gs://b/tmp/weir-staging"),
        (["--input=x", "--temp_location=gs://b/tmp"], True, "gs://b/tmp/weir-staging"),  # a Flex launch
        (["--input=x", "--runner=DataflowRunner", "--staging=/local"], None, ValueError),
        (["--input=x"], True, ValueError),
    ],
)
def test_one_rule_for_where_a_rebuild_stages(flags, remote, expected):
    from weir.pipelines.rebuild import staging_location

    options = PipelineOptions(flags)
    if expected is ValueError:
        with pytest.raises(ValueError, match="needs --staging gs://"):
            staging_location(options, "/home/staging", remote)
    else:
        assert staging_location(options, "/home/staging", remote) == expected
