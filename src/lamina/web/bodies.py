"""Request bodies of the JSON API: read within a size limit (and the server's bound on
request bytes held at once), and JSON objects whose fields have the types a route
names, or a 400 that says which field is wrong and how.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import orjson
from starlette.requests import Request

from lamina.errors import BadRequest, PayloadTooLarge
from lamina.server_runtime import ServerRuntime

MiB = 1024 * 1024
# A JSON object of a few fields (a project's name, a user's email and password).
MAX_JSON_BODY = MiB

# A field's type, as a route names it: one or more of these.
TEXT = (str,)
WHOLE = (int,)
FLAG = (bool,)
WHOLE_OR_NULL = (int, type(None))
_NAMES = {str: "text", int: "a whole number", bool: "true or false", type(None): "null"}


async def read_body(
    request: Request, runtime: ServerRuntime, limit: int, too_large: str
) -> tuple[bytes, int]:
    """The body, refused with ``too_large`` past ``limit`` bytes (before reading it when
    its Content-Length says so), and the bytes taken from the server's budget, which
    the caller gives back once it is done with the body."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large)
    chunks = []
    taken = 0
    try:
        async for chunk in request.stream():
            if taken + len(chunk) > limit:
                raise PayloadTooLarge(too_large)
            runtime.bodies.take(len(chunk))
            taken += len(chunk)
            chunks.append(chunk)
    except BaseException:
        runtime.bodies.give_back(taken)
        raise
    return b"".join(chunks), taken


async def read_json(
    request: Request,
    runtime: ServerRuntime,
    limit: int,
    what: str,
    too_large: str | None = None,
) -> dict[str, Any]:
    """The body's JSON object (an empty body is ``{}``), read within ``limit`` bytes
    (``too_large`` says so past it; by default, the limit). ``what`` says what the
    object holds (``'one score, or {"scores": [...]}'``) for the 400 a body that is no
    JSON object gets."""
    if too_large is None:
        too_large = f"This request's body may hold at most {_size(limit)}."
    body, taken = await read_body(request, runtime, limit, too_large)
    try:
        value = parse_json(body or b"{}", f"a JSON object ({what})")
    finally:
        runtime.bodies.give_back(taken)
    if not isinstance(value, dict):
        raise BadRequest(f"The body must be a JSON object ({what}); it is {_kind(value)}.")
    return value


def parse_json(body: bytes, what: str) -> Any:
    """The body's JSON value, or a 400 saying the body must be ``what`` and where it
    stopped being JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body must be {what}; it could not be read as JSON: {exc}.") from None


async def json_fields(
    request: Request,
    runtime: ServerRuntime,
    fields: Mapping[str, tuple[type, ...]],
    required: Collection[str] = (),
) -> dict[str, Any]:
    """The body's JSON object: only ``fields``, each of one of its types, and every
    one of ``required``."""
    values = await read_json(request, runtime, MAX_JSON_BODY, f"with {', '.join(fields)}")
    unknown = sorted(values.keys() - fields.keys())
    if unknown:
        raise BadRequest(
            f"Unknown field {unknown[0][:80]!r}: this route takes {', '.join(fields)}."
        )
    for name in required:
        if name not in values:
            raise BadRequest(f"The body must give {name}.")
    for name, value in values.items():
        if not any(_is(value, kind) for kind in fields[name]):
            kinds = " or ".join(_NAMES[kind] for kind in fields[name])
            raise BadRequest(f"{name} must be {kinds}; got {orjson.dumps(value).decode()[:80]}.")
    return values


def _size(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit % MiB == 0 else f"{limit:,} bytes"


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "null"
    return "a number"


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)
