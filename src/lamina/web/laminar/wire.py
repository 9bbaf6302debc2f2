"""What every Laminar route shares (#24): a request's JSON object read within a limit,
the fields Laminar sends checked by type, and the answer for what Lamina does not do."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from lamina.errors import BadRequest, NotSupported
from lamina.server_runtime import ServerRuntime
from lamina.web.bodies import read_json

MiB = 1024 * 1024


async def json_object(request: Request, runtime: ServerRuntime, limit: int = MiB) -> dict[str, Any]:
    """The body's JSON object (lamina.web.bodies.read_json). Fields Laminar may add later
    are let through (each route reads the ones it knows), as Laminar's server does."""
    return await read_json(
        request,
        runtime,
        limit,
        "the fields of this Laminar call",
        f"This request's body may hold at most {limit // MiB} MiB; send it in several.",
    )


def text_or_null(given: dict[str, Any], field: str) -> str | None:
    value = given.get(field)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{field} must be text or null; got {orjson.dumps(value).decode()[:80]}.")
    return value


def object_or_null(given: dict[str, Any], field: str) -> dict[str, Any] | None:
    value = given.get(field)
    if value is not None and not isinstance(value, dict):
        raise BadRequest(f"{field} must be a JSON object or null.")
    return value


def not_supported(feature: str, instead: str) -> NotSupported:
    """A 501 that names the Laminar feature Lamina does not have, and what to use."""
    return NotSupported(f"Lamina does not have Laminar's {feature}. {instead}")
