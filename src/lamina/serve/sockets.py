"""The server's listening sockets, and what a port already in use is told.

The HTTP port is bound here and handed to uvicorn (or, with ``--workers N``, to
every worker). The gRPC port is bound without SO_REUSEPORT, so a second server
cannot share it by accident (the kernel would split the connections between the
two); only the workers of one ``--workers N`` server share it, through
:func:`hold_port`.
"""

from __future__ import annotations

import socket

from lamina.errors import ConfigError


def bind(host: str, port: int) -> socket.socket:
    """A listening, non-blocking socket on ``host:port``; ConfigError when the port is taken."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it, keep-alive responses written
    # in two parts wait ~40 ms for the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"Cannot listen on {host}:{port} ({exc.strerror}). Is another server running? "
            "Choose another port with --port."
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def grpc_port_error(host: str, port: int, reason: str) -> ConfigError:
    """The error for a gRPC port this server cannot have; ``reason`` is used when
    binding the port again does not say why."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or reason
    return ConfigError(
        f"Cannot listen for OTLP/gRPC on {host}:{port} ({reason}). Is another server "
        "running? Choose another port with --grpc-port, or -1 to turn gRPC off."
    )


def hold_port(host: str, port: int) -> socket.socket:
    """Bind (never listen) with SO_REUSEPORT: the workers' gRPC servers bind it too.

    A socket with SO_REUSEPORT shares the port with any other that set it (another
    ``--workers`` server, an older Lamina), so a port of someone else's is found first
    by binding it without."""
    family = _family(host)
    if port != 0:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise grpc_port_error(host, port, exc.strerror or str(exc)) from None
    held = socket.socket(family, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        held.bind((host, port))
    except OSError as exc:
        held.close()
        raise grpc_port_error(host, port, exc.strerror or str(exc)) from None
    return held


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
