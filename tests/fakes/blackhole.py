"""A TCP server that accepts connections and never answers: a server that hangs."""

from __future__ import annotations

import socket
import threading


class Blackhole:
    """Listens on an ephemeral local port; holds every connection open, silent,
    until closed. Use as a context manager; point clients at :attr:`url`."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="blackhole", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def _accept(self) -> None:
        self._listener.settimeout(0.05)  # close() does not wake a blocked accept()
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connections.append(connection)

    def __enter__(self) -> Blackhole:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._thread.join(5)  # after it, no connection is added
        self._listener.close()
        for connection in self._connections:
            connection.close()


def unused_port_url() -> str:
    """The URL of a local port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
