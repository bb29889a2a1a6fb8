"""The pipeline graph (`pipelines.graph.build`) and the runners of its two modes."""
