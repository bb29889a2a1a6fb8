"""The graph's tunable defaults, decided once.

The job's flags (`weir.pipelines.flags`), `GraphConfig` and the composites all read them
from here. The module imports nothing, so the CLI can declare its flags without loading Beam.
"""

DEFAULT_ALLOWED_LATENESS_S = 3600  # streaming: seconds after a 5-minute bucket ends that it still counts events
DEFAULT_EARLY_S = 5  # streaming: seconds of processing time between early firings of the open bucket
DEFAULT_HORIZON_S = 3600  # streaming: seconds (event time) an event is remembered for dedupe
