"""The listening socket of `weir serve` and `weir collect`, opened before anything is printed.

In: host and port. Out: a bound, listening socket for uvicorn (`Server.run(sockets=[...])`),
or a ValueError naming the port when it cannot be had (in use, not permitted, no such
address): the command's usage error, one line and exit 2, before it says where it serves.
"""

from __future__ import annotations

import errno
import socket

from weir.usage import UsageError


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is in use: stop what holds it, or give --port") from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock
