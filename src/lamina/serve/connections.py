"""HTTP connections: how many a server holds, and how long each may take.

uvicorn on its own holds every connection it accepts for as long as the client
likes: a client that sends half a request and stops, or one header byte every
few seconds, or a body at a few bytes a second, keeps its connection forever,
and once enough of them are open uvicorn answers every other request with 503
(its concurrency limit counts open connections). So Lamina's HTTP protocol is
uvicorn's httptools protocol with these rules, per server process:

- A connection may sit without a request for ``keep_alive_seconds`` (before its
  first request and between requests); then it is closed.
- A request's headers must have arrived ``header_timeout_seconds`` after its first
  byte, else 408 and the connection is closed (slowloris).
- A body must average ``min_body_rate`` bytes a second once
  ``header_timeout_seconds`` have passed since its headers, else 408 and close.
  Time the server itself stopped reading (the application was not ready for more
  body) does not count against the client.
- One client address holds at most ``max_connections_per_client`` connections;
  more are refused with 503 at once.
- The server holds at most ``max_connections``. When it is full, a new connection
  takes the place of the connection that has waited longest for its request
  (an idle keep-alive connection, or one still sending its headers): a request
  that has arrived is never pushed out by one that has not, so a signed-in user
  or an exporter is served while such connections come and go. Only when every
  connection has a request in progress is the new one refused with 503.

Requests in progress are not limited here: ingest has its own limits (bytes in
flight, queued spans) and reads run on a bounded pool of threads.

An answer's head and its body leave in one write (:class:`OneWrite`): uvicorn writes
them apart, two sends for every answer, and the first wakes the client for a head it
cannot use without the body (docs/performance.md, session 15).
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from dataclasses import dataclass
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lamina.settings import Settings

log = logging.getLogger("lamina.serve.connections")

BODY_CHECK_SECONDS = 1.0  # how often a body's rate is checked
FILE_HEADROOM = 1024  # open files kept for the store, decode workers and gRPC


@dataclass(frozen=True)
class Limits:
    max_connections: int
    per_client: int
    keep_alive: float
    header_timeout: float
    min_body_rate: int  # bytes a second; 0: none

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_connections=fit_to_open_files(settings.max_connections),
            per_client=settings.max_connections_per_client,
            keep_alive=settings.keep_alive_seconds,
            header_timeout=settings.header_timeout_seconds,
            min_body_rate=settings.min_body_rate,
        )


def fit_to_open_files(wanted: int) -> int:
    """Raise this process's open-file limit to fit ``wanted`` connections if the hard
    limit allows; else lower ``wanted`` to what fits. A server out of descriptors
    stops accepting anyone (asyncio pauses ``accept`` for a second at a time)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + FILE_HEADROOM
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= need:
        return wanted
    fits = max(64, soft - FILE_HEADROOM)
    log.warning(
        "This process may open %d files (ulimit -n), too few for %d connections "
        "(LAMINA_MAX_CONNECTIONS); holding at most %d. Raise the limit to hold more.",
        soft,
        wanted,
        fits,
    )
    return fits


class Guard:
    """The connections of one server: counted per client address, and those
    without a request in progress in the order they began to wait."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.open = 0
        self.by_client: dict[str, int] = {}
        self.waiting: dict[GuardedProtocol, None] = {}  # oldest first
        self.refused = 0
        self.evicted = 0
        self.timed_out = 0

    def admit(self, connection: GuardedProtocol) -> str | None:
        """Count a new connection in; or say why it is refused."""
        client = connection.client_address
        if self.by_client.get(client, 0) >= self.limits.per_client:
            self.refused += 1
            return (
                f"This server holds at most {self.limits.per_client} connections from one "
                "address, and this address has that many open. Retry once some have closed."
            )
        if self.open >= self.limits.max_connections:
            if not self.waiting:
                self.refused += 1
                return "The server is busy with as many requests as it can hold. Retry shortly."
            oldest = next(iter(self.waiting))
            self.evicted += 1
            oldest.drop()
        self.open += 1
        self.by_client[client] = self.by_client.get(client, 0) + 1
        return None

    def release(self, connection: GuardedProtocol) -> None:
        self.waiting.pop(connection, None)
        self.open -= 1
        client = connection.client_address
        left = self.by_client[client] - 1
        if left:
            self.by_client[client] = left
        else:
            del self.by_client[client]


_NOT_HTTP = (
    "The request could not be read as HTTP (a malformed request line or header); "
    "send it again as HTTP/1.1 with its URL and headers encoded."
)


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above (see :func:`http_protocol`)."""

    guard: ClassVar[Guard]

    client_address = ""
    _counted = False
    _timer: asyncio.TimerHandle | None = None
    _reading_headers = False
    _reading_body = False
    _body_started = 0.0
    _body_received = 0
    _body_paused = 0.0  # seconds the server did not read the body
    _body_checked = 0.0

    # -- uvicorn's protocol interface ---------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are no HTTP request it can read (a malformed
        request line or header), in the API's JSON error shape rather than plain text."""
        body = json.dumps({"error": {"code": "bad_request", "message": _NOT_HTTP}}).encode()
        head = (
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.client_address = self.client[0] if self.client else ""
        refusal = self.guard.admit(self)
        if refusal is not None:
            self._answer(503, refusal)
            return
        self._counted = True
        self._wait_for_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        if self._counted:
            self._counted = False
            self.guard.release(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._reading_body and self._timer is None and self.guard.limits.min_body_rate:
            self._timer = self.loop.call_later(BODY_CHECK_SECONDS, self._check_body)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._stop_timer()
        self._reading_headers = True
        self._timer = self.loop.call_later(self.guard.limits.header_timeout, self._headers_late)

    def on_headers_complete(self) -> None:
        self._stop_timer()
        self._reading_headers = False
        self.guard.waiting.pop(self, None)
        self._reading_body = True
        self._body_started = self._body_checked = self.loop.time()
        self._body_received = 0
        self._body_paused = 0.0
        super().on_headers_complete()
        if self.cycle is not None:  # None: the connection was upgraded
            self.cycle.transport = OneWrite(self.transport, self.loop)  # type: ignore[assignment]

    def on_body(self, body: bytes) -> None:
        self._body_received += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._reading_body = False
        self._stop_timer()
        super().on_message_complete()
        if self.cycle.response_complete:  # answered before the body was all read
            self._wait_for_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self._reading_body and not self.pipeline and self.cycle.response_complete:
            self._wait_for_request()

    # -- the limits ---------------------------------------------------------------------
    def drop(self) -> None:
        """Close this connection, which has no request in progress, to make room."""
        self._stop_timer()
        if self._counted:
            self._counted = False
            self.guard.release(self)
        self.transport.close()

    def _wait_for_request(self) -> None:
        if self.transport.is_closing() or self._reading_headers:
            return
        self._stop_timer()
        self.guard.waiting.pop(self, None)
        self.guard.waiting[self] = None  # the newest waiter
        self._timer = self.loop.call_later(self.guard.limits.keep_alive, self._idle)

    def _idle(self) -> None:
        self._timer = None
        self.transport.close()

    def _headers_late(self) -> None:
        self._timer = None
        if self.flow.read_paused:  # the server is not reading (a request ahead of it runs)
            self._timer = self.loop.call_later(self.guard.limits.header_timeout, self._headers_late)
            return
        self.guard.timed_out += 1
        seconds = self.guard.limits.header_timeout
        self._answer(408, f"The request's headers did not arrive within {seconds:g} seconds.")

    def _check_body(self) -> None:
        self._timer = None
        if not self._reading_body or self.transport.is_closing():
            return
        now = self.loop.time()
        if self.flow.read_paused:  # the application is not reading: not the client's doing
            self._body_paused += now - self._body_checked
        self._body_checked = now
        limits = self.guard.limits
        late = now - self._body_started - self._body_paused - limits.header_timeout
        if late > 0 and self._body_received < late * limits.min_body_rate:
            self.guard.timed_out += 1
            self._answer(
                408,
                f"The request body arrived slower than {limits.min_body_rate} bytes a second.",
            )
            return
        self._timer = self.loop.call_later(BODY_CHECK_SECONDS, self._check_body)

    def _answer(self, status: int, message: str) -> None:
        """Send a short plain-text answer and close (unless the application's answer has
        begun: then just close). To the application the client has gone."""
        self._stop_timer()
        cycle = self.cycle
        answering = cycle is not None and not cycle.response_complete
        if answering:
            cycle.disconnected = True
            cycle.message_event.set()
        if not answering or not cycle.response_started:
            reason = "Request Timeout" if status == 408 else "Service Unavailable"
            body = message.encode() + b"\n"
            head = (
                f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n"
                + ("retry-after: 1\r\n" if status == 503 else "")
                + "\r\n"
            )
            self.transport.write(head.encode() + body)
        self.transport.close()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class OneWrite:
    """The connection's transport as one answer writes to it: its first write (the
    head) is held until the next (the body's first bytes: both leave in one send), or
    until the loop's next turn (an answer whose body comes later: a stream)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = data
            self._loop.call_soon(self._flush)
            return
        if self._held is not None:
            data, self._held = self._held + data, None
        self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self._transport.get_extra_info(name, default)

    def _flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(held)


def http_protocol(limits: Limits) -> type[GuardedProtocol]:
    """The protocol class for one server's uvicorn.Config(http=...), with its guard."""

    class Guarded(GuardedProtocol):
        guard = Guard(limits)

    return Guarded


__all__ = ["Guard", "GuardedProtocol", "Limits", "OneWrite", "fit_to_open_files", "http_protocol"]
