"""weir: open web content analytics on Apache Beam and BigQuery."""

__version__ = "0.1.0"
