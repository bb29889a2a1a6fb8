"""weir: open web content analytics on Apache Beam and BigQuery.

One import package, in layers that import one way (tests/test_layers.py):

    weir.schemas  <-  weir.transforms  <-  services  <-  weir.pipelines  <-  the application

- `weir.schemas`, `weir.transforms`, `weir.pipelines`: the top-level folders schemas/,
  transforms/, pipelines/ (setup.py's package_dir);
- services: `weir.warehouse` (both warehouses), `weir.pubsub` (names, topology, the
  emulator), `weir.config` (local settings);
- the application: `weir.cli` (the command line), `weir.query` (the query client, plots),
  `weir.checks` (verify, compare, status), `weir.console` (tables, progress),
  `weir.collector` (the HTTP collector), `weir.traffic` (generated traffic), `weir.bench`,
  `weir.demo`, `weir.flex` (Flex Template launches).
"""

__version__ = "0.1.0"
