"""The PyPI-only Pub/Sub emulator: drongo's in-process gRPC server, run as its own process.

Used by `weir.pubsub.emulator.start_emulator` where the official emulator (Google Cloud CLI) is not
installed, or when WEIR_PUBSUB_EMULATOR=drongo. Prints its host:port on the first line of
stdout, then serves until terminated.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> int:
    from drongo.services.pubsub.emulator import PubSubEmulator

    emulator = PubSubEmulator()
    emulator.start()
    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if not host:
        print("drongo's Pub/Sub emulator did not start (grpcio or google-cloud-pubsub missing)", file=sys.stderr)
        return 1
    print(host.replace("localhost", "127.0.0.1"), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
