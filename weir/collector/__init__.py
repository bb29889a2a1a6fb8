"""The collector: tracker hits in over HTTP, Pub/Sub messages out, never losing an event."""
