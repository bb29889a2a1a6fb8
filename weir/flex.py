"""Launch parameters for the Flex Template (templates/), rendered and checked in one place.

    python -m weir.flex stream  --project P --region R --template gs://B/weir.json --image IMG --archive gs://B/raw
    python -m weir.flex rebuild --project P --region R --template gs://B/weir.json --image IMG \\
        --archive gs://B/raw --date 2026-11-21   (or --input 'gs://B/raw/dt=2026-11-21/*/*.avro')

prints (or with --run, runs) the `gcloud dataflow flex-template run` command. The parameters
are checked against templates/metadata.json (names and regexes) and parsed by the job's
own options (pipelines.options) before anything is launched, so a typo fails here and not
on a launcher VM ten minutes later. templates/Makefile calls this.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys

from weir import schemas
from weir.pubsub import SUBSCRIPTION

METADATA = os.path.join(os.path.dirname(__file__), "..", "templates", "metadata.json")
REQUIRED = {"stream": ("subscription", "archive"), "rebuild": ()}  # a rebuild: see problems()


def load_metadata(path: str = METADATA) -> dict:
    with open(path) as fh:
        return json.load(fh)


def stream_parameters(project: str, archive: str, dataset: str = schemas.DEFAULT_DATASET, **extra) -> dict[str, str]:
    params = {
        "mode": "stream",
        "dataset": dataset,
        "subscription": f"projects/{project}/subscriptions/{SUBSCRIPTION}",
        "archive": archive,
    }
    params.update({k: str(v) for k, v in extra.items() if v is not None})
    return params


def rebuild_parameters(
    input: str, date: str | None = None, dataset: str = schemas.DEFAULT_DATASET, **extra
) -> dict[str, str]:
    params = {"mode": "rebuild", "dataset": dataset}
    if input:
        params["input"] = input
    if date:
        params["date"] = date
    params.update({k: str(v) for k, v in extra.items() if v is not None})
    return params


def problems(params: dict[str, str], metadata: dict | None = None) -> list[str]:
    """What is wrong with `params` for the template: [] when it would launch."""
    metadata = metadata or load_metadata()
    declared = {p["name"]: p for p in metadata["parameters"]}
    out = []
    for name, value in params.items():
        spec = declared.get(name)
        if spec is None:
            out.append(f"{name}: not a parameter of the template")
            continue
        for regex in spec.get("regexes", []):
            if not re.fullmatch(regex, value):
                out.append(f"{name}={value!r} does not match {regex}")
    for name, spec in declared.items():
        if not spec.get("isOptional", False) and name not in params:
            out.append(f"{name}: required")
    for name in REQUIRED.get(params.get("mode", ""), ()):
        if name not in params:
            out.append(f"{name}: required when mode={params['mode']}")
    if params.get("mode") == "rebuild" and "input" not in params and not ("date" in params and "archive" in params):
        out.append("input: required when mode=rebuild, unless date and archive are given")
    if not out:
        out.extend(_options_problems(params))
    return out


def _options_problems(params: dict[str, str]) -> list[str]:
    """The job's own validation, on the parameters as the launcher passes them (--name=value)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from weir.pipelines.options import WeirOptions, validate

    options = PipelineOptions([f"--{k}={v}" for k, v in params.items()])
    unknown = [a for a in options.get_all_options(retain_unknown_options=True) if a not in options.get_all_options()]
    if unknown:
        return [f"{a}: not an option of the job" for a in unknown]
    try:
        validate(options.view_as(WeirOptions), remote=True)
    except ValueError as exc:
        return [str(exc)]
    return []


def run_command(job_name: str, template: str, region: str, project: str, params: dict[str, str]) -> list[str]:
    """The gcloud command that launches the template with `params`."""
    joined = ",".join(f"{k}={v}" for k, v in params.items())
    # gcloud splits --parameters on commas; "^~^" makes "~" the separator when a value has one.
    if "," in "".join(params.values()):
        joined = "^~^" + "~".join(f"{k}={v}" for k, v in params.items())
    return [
        "gcloud",
        "dataflow",
        "flex-template",
        "run",
        job_name,
        f"--project={project}",
        f"--region={region}",
        f"--template-file-gcs-location={template}",
        f"--parameters={joined}",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Render (and optionally run) a Flex Template launch of weir.")
    p.add_argument("mode", choices=("stream", "rebuild"))
    p.add_argument("--project", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--template", required=True, help="gs:// path of the built template spec")
    p.add_argument("--image", help="the template image, also the workers' (sdk_container_image)")
    p.add_argument("--dataset", default=schemas.DEFAULT_DATASET)
    p.add_argument("--archive", help="gs:// archive root (stream: where it writes; rebuild: where --date reads)")
    p.add_argument("--subscription", help=f"stream: default projects/PROJECT/subscriptions/{SUBSCRIPTION}")
    p.add_argument("--input", help="rebuild: gs:// path or glob")
    p.add_argument("--date", help="rebuild: YYYY-MM-DD")
    p.add_argument("--job-name", dest="job_name", default=None)
    p.add_argument("--run", action="store_true", help="run the command instead of printing it")
    args = p.parse_args(argv)
    extra = {"sdk_container_image": args.image}
    if args.mode == "stream":
        if args.subscription:
            extra["subscription"] = args.subscription
        params = stream_parameters(args.project, args.archive or "", args.dataset, **extra)
        name = args.job_name or "weir-stream"
    else:
        if not args.input and not (args.date and args.archive):
            raise SystemExit(
                "weir.flex rebuild: give --input, or --date with --archive (each site's day from the archive)"
            )
        params = rebuild_parameters(
            args.input or "", args.date, args.dataset, **({"archive": args.archive} if not args.input else {}), **extra
        )
        name = args.job_name or f"weir-rebuild-{(args.date or 'all').replace('-', '')}"
    params = {k: v for k, v in params.items() if v != ""}
    found = problems(params)
    if found:
        print("weir.flex: " + "; ".join(found), file=sys.stderr)
        return 2
    cmd = run_command(name, args.template, args.region, args.project, params)
    if not args.run:
        print(shlex.join(cmd))
        return 0
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
