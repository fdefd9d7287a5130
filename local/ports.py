"""Free loopback ports for the local stack (never fixed ones, so stacks and CI jobs can run side by side)."""

from __future__ import annotations

import contextlib
import socket

LOOPBACK = "127.0.0.1"


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return `count` distinct ports that were free a moment ago.

    All sockets stay bound until every port is chosen, so the kernel cannot hand
    the same port out twice within one call. A port can still be taken by
    someone else before our child binds it; the component then fails its
    readiness check with a clear error rather than silently talking to a stranger.
    """
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]


def free_port(host: str = LOOPBACK) -> int:
    return free_ports(1, host)[0]


def is_listening(port: int, host: str = LOOPBACK, timeout: float = 0.2) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0
