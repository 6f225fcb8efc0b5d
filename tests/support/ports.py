"""Loopback ports for servers a test starts in another process."""

from __future__ import annotations

import socket


def free_loopback_port() -> int:
    """A loopback port free just now (bound, then released), for a server to listen on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
