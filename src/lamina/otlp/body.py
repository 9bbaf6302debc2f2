"""An OTLP trace export's body, as it arrived, into a batch of spans.

The body's content type (protobuf or JSON) and encoding (gzip, deflate or none),
inflating it within the body limit, refusing a request of too many spans, and
decoding it: with the C wire decoder (:mod:`lamina.otlp.wire`) when it reads the
request, else with upb and :mod:`lamina.otlp.decode`. Pure functions: the caller
(a decode worker, :mod:`lamina.ingest.decoder`) gives the price table.
"""

from __future__ import annotations

import zlib
from dataclasses import replace

from lamina.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from lamina.otlp.decode import CostFunction, decode_request, parse_json, parse_protobuf
from lamina.otlp.wire import count_spans, decode_wire
from lamina.spans.batch import ColumnBatch, request_digest

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# The Content-Encodings a body may arrive in.
ENCODINGS = ("identity", "", "gzip", "deflate")
GZIP_MAGIC = b"\x1f\x8b"  # how each gzip member begins
_INFLATE_SLICE = 64 * 1024


def content_type(header: str | None) -> str:
    """PROTOBUF or JSON, from a Content-Type header; UnsupportedMediaType otherwise."""
    given = (header or "").split(";", 1)[0].strip().lower()
    if given in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if given == JSON:
        return JSON
    raise UnsupportedMediaType(
        f"Content-Type {given or '(none)'} is not supported. OTLP/HTTP bodies are "
        f"{PROTOBUF} or {JSON}."
    )


def encoding(header: str | None) -> str:
    """One of ENCODINGS, from a Content-Encoding header; UnsupportedMediaType otherwise."""
    given = (header or "identity").strip().lower()
    if given not in ENCODINGS:
        raise UnsupportedMediaType(
            f"Content-Encoding {given} is not supported; use gzip or no encoding."
        )
    return given


def body_too_large(limit: int, decompressed: bool = False) -> str:
    where = "after decompression " if decompressed else ""
    return (
        f"The request body is larger than {limit} bytes {where}(LAMINA_MAX_BODY_BYTES). "
        "Send smaller batches."
    )


def decode_body(
    body: bytes,
    content_type: str,
    project_id: str,
    price: CostFunction,
    *,
    encoding: str = "identity",
    max_spans: int | None = None,
    max_bytes: int | None = None,
) -> ColumnBatch:
    """Decompress, parse, decode and normalise one export request body into a batch,
    tagged with the digest of the request (see ``request_digest``).

    A body that inflates past ``max_bytes`` is refused as it inflates. A request of
    more than ``max_spans`` spans is refused once parsed, before the far dearer
    decoding: 15 MB of tiny spans took 20 s and 500 MB to decode."""
    if encoding in ("gzip", "deflate"):
        body = inflate(body, max_bytes, gzip=encoding == "gzip")
    digest = request_digest(project_id, body)
    # One path from here: a JSON body is parsed and serialised to protobuf.
    request = None if content_type == PROTOBUF else parse_json(body)
    wire = body if request is None else request.SerializeToString()
    if max_spans is not None:
        count = count_spans(wire)
        if count < 0:  # not readable by the fast path: upb words the error, if any
            request = request or parse_protobuf(wire)
            count = sum(len(s.spans) for rs in request.resource_spans for s in rs.scope_spans)
        if count > max_spans:
            raise PayloadTooLarge(
                f"This request holds {count} spans; the server accepts at most {max_spans} "
                "in one request. Send smaller batches."
            )
    batch = decode_wire(wire, project_id, price)
    if batch is None:  # a request out of the fast path's reach: upb and decode.py
        batch = decode_request(request or parse_protobuf(wire), project_id, price)
    return replace(batch, digest=digest)


def inflate(body: bytes, limit: int | None, gzip: bool) -> bytes:
    """A gzip or deflate body decompressed, refusing to inflate past ``limit`` bytes.

    A gzip body may hold several members one after another (RFC 1952; ``cat a.gz
    b.gz`` makes one): each is inflated and the results joined, as ``gzip -d``
    does. Any other bytes after the compressed data are refused, never dropped.
    The body is fed in slices of ``_INFLATE_SLICE`` bytes: zlib copies the input
    left after each member, which for a body of many tiny members would otherwise
    cost the square of its size."""
    name = "gzip" if gzip else "deflate"
    wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
    view = memoryview(body)
    inflater = zlib.decompressobj(wbits)
    parts: list[bytes] = []
    size = 0
    pending: bytes | memoryview = b""  # input given to no inflater yet, or left by one
    taken = 0  # bytes of ``body`` moved into ``pending`` so far
    while True:
        if not pending:
            if taken == len(body):
                break
            pending = view[taken : taken + _INFLATE_SLICE]
            taken += len(pending)
        try:
            part = inflater.decompress(pending, 0 if limit is None else limit - size + 1)
        except zlib.error as exc:
            raise BadRequest(f"The body is not valid {name} data: {exc}.") from None
        size += len(part)
        parts.append(part)
        if limit is not None and size > limit:
            raise PayloadTooLarge(body_too_large(limit, decompressed=True))
        if not inflater.eof:
            pending = b""  # all of it was taken (output stopped short of the limit)
            continue
        pending = inflater.unused_data
        if len(pending) < len(GZIP_MAGIC) and taken < len(body):
            pending += view[taken : taken + _INFLATE_SLICE]
            taken += len(pending) - len(inflater.unused_data)
        if not pending:
            break
        if not gzip or not pending.startswith(GZIP_MAGIC):
            extra = len(pending) + len(body) - taken
            raise BadRequest(
                f"The body goes on for {extra} byte{'' if extra == 1 else 's'} after its "
                f"{name} data ends; send only the compressed body."
            )
        inflater = zlib.decompressobj(wbits)  # the next gzip member
    if not inflater.eof:
        raise BadRequest("The compressed body ends early; send the whole body.")
    return b"".join(parts)
