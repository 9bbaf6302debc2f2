"""A judge's connection pinned to the addresses its host was checked at.

The address guard (:func:`lamina.evaluation.llm.check_endpoint`) resolves a judge's
host once and refuses it unless every address is public. Were the client to resolve
the name again when it connects, a name whose answer changes between the two lookups
(DNS rebinding: a public address when checked, 127.0.0.1 or 169.254.169.254 when
connected) would carry the call to this machine or its cloud's metadata service. So
the judge's client resolves nothing: :class:`PinnedTransport` connects to the checked
addresses (in the resolver's order, the next when one cannot be reached), while the
request keeps the host's name where it belongs: in the URL and the Host header, and as
the TLS server name (SNI) and the name the certificate must be valid for, which
httpcore2 takes from the URL, never from the socket. (httpx2 and httpcore2 are the
HTTP stack of the ``openai`` client from its version 3 on; the transport is theirs.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import httpcore2
import httpx2


class _PinnedBackend(httpcore2.NetworkBackend):
    """Connects to the pinned addresses whatever host it is asked for."""

    def __init__(self, addresses: Sequence[str]) -> None:
        if not addresses:
            raise ValueError("a pinned connection needs an address")
        self._addresses = tuple(addresses)
        self._backend = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.NetworkStream:
        failed: Exception | None = None
        for address in self._addresses:
            try:
                return self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failed = exc
        assert failed is not None
        raise failed

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.NetworkStream:
        raise httpcore2.ConnectError("A judge is reached over TCP only.")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class PinnedTransport(httpx2.HTTPTransport):
    """httpx2's transport, its connections made to ``addresses`` (no name is resolved;
    no proxy is used: a proxy would resolve the name itself)."""

    def __init__(self, addresses: Sequence[str]) -> None:
        super().__init__()
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(),
            network_backend=_PinnedBackend(addresses),
        )
