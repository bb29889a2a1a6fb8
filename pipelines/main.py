"""The Flex Template's entry point: `python -m weir.pipelines.main --mode=stream|rebuild ...`.

The launcher container runs this with the template's parameters (templates/metadata.json,
the same names as `pipelines.options.WeirOptions`) plus Dataflow's own (--project,
--region, --temp_location, ...). It builds the job and submits it, then returns: a stream
runs until drained; a rebuild commits its days as its own last step (pipelines.commit).
"""

from __future__ import annotations

import logging
import sys

from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from weir.pipelines.options import WeirOptions
from weir.usage import UsageError
from weir.warehouse import WarehouseRef


def submit(argv: list[str]):
    """Builds and submits the job the arguments describe; returns the PipelineResult."""
    options = PipelineOptions(argv)
    opts = options.view_as(WeirOptions)
    if opts.mode == "stream":
        from weir.pipelines.dataflow_stream import launch_stream

        return launch_stream(options)
    from weir.pipelines.rebuild import launch_rebuild

    gcp = options.view_as(GoogleCloudOptions)
    if not gcp.project:
        raise UsageError("a rebuild on Dataflow needs --project (the BigQuery tables' project)")
    ref = WarehouseRef(gcp.project, opts.dataset)
    if opts.site_zones is None:  # each site's calendar, from the sites table the job's days follow
        import json

        from weir import sites

        opts.site_zones = json.dumps(sites.zones(ref.open()).as_dict())
    return launch_rebuild(options, ref)


def main(argv: list[str] | None = None) -> int:
    logging.getLogger().setLevel(logging.INFO)
    result = submit(sys.argv[1:] if argv is None else argv)
    job_id = getattr(result, "job_id", None)
    logging.info("submitted job %s", job_id() if callable(job_id) else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
