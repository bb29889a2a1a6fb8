"""`weir publish`: replay archive or JSON-lines files into the topic at a given rate."""

from __future__ import annotations

import glob
import time
from collections.abc import Iterator

from apache_beam.io.filesystems import FileSystems

from weir.pubsub import PubSubNames, attributes_for
from weir.transforms.compaction import without_replaced
from weir.transforms.read import read_avro, read_json_lines


def read_payloads(patterns: list[str]) -> Iterator[bytes]:
    """Payloads of every record in the files matching the patterns (local or gs://), in order."""
    for pattern in patterns:
        if pattern.startswith("gs://"):
            paths = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
        else:
            # A compacted hour's replaced files are left out (their records are in its compact file).
            paths = without_replaced(sorted(glob.glob(pattern, recursive=True))) or [pattern]
        for path in paths:
            with FileSystems.open(path) as fh:
                reader = read_avro(path, fh) if path.endswith(".avro") else read_json_lines(path, fh)
                for record in reader:
                    yield record["payload"]


def publish(payloads, names: PubSubNames, rate: float = 0.0, say=print, shown=None) -> int:
    """Publishes each payload with SPEC §1 attributes; `rate` messages/s (0: as fast as possible).
    `shown`: a progress bar (update(n), close(), disable) the caller made; without one, or
    with a disabled one, `say` reports every 5,000 messages."""
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_messages=500, max_latency=0.05)
    )
    futures = []
    start = time.monotonic()
    n = 0
    quiet = shown is not None and not shown.disable  # on a terminal the bar says it
    for n, payload in enumerate(payloads, 1):
        if shown is not None:
            shown.update(1)
        futures.append(publisher.publish(names.topic_path, payload, **attributes_for(payload, int(time.time() * 1000))))
        if rate > 0:
            ahead = n / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        if n % 5000 == 0 and not quiet:
            say(f"published {n:,} messages ({n / (time.monotonic() - start):,.0f}/s)")
    if shown is not None:
        shown.close()
    for f in futures:
        f.result(timeout=60)  # raises if any publish failed: nothing is silently not sent
    return n
