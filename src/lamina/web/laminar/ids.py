"""Laminar's ids for Lamina's things (#24): Laminar's SDKs read a project, an
evaluation, a dataset and its datapoints by UUID, where Lamina names a project
``prj_...``, a dataset by its name and an item by any id of its own.

Each Laminar id is made from Lamina's (a UUID 5 in a namespace of our own), so it is
the same every time and needs nothing stored; the way back lists the few candidates
(a server's projects, a project's datasets) and compares. An experiment made through
``POST /v1/evals`` has a UUID for its id, which is both.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from lamina.errors import BadRequest
from lamina.store.base import Project

NAMESPACE = uuid.UUID("6f1b5a52-3f0e-4c36-9a55-2c0a0f6c1d24")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def project_uuid(project_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"project:{project_id}"))


def find_project(projects: list[Project], project_uuid_text: str) -> Project | None:
    """The project whose Laminar id this is, if any."""
    return next((p for p in projects if project_uuid(p.id) == project_uuid_text.lower()), None)


def dataset_uuid(project_id: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"dataset:{project_id}/{name}"))


def item_uuid(item_id: str) -> str:
    """A dataset item's id as a UUID: itself when it is one (Lamina makes its items'
    ids as 32 hex digits), else one made from it."""
    if _HEX32.match(item_id):
        return str(uuid.UUID(hex=item_id))
    try:
        return str(uuid.UUID(item_id))
    except ValueError:
        return str(uuid.uuid5(NAMESPACE, f"item:{item_id}"))


def as_uuid(value: Any, field: str) -> uuid.UUID:
    """A UUID as Laminar sends it (with or without dashes), or a 400 naming the field."""
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    shown = repr(value)[:80]
    raise BadRequest(f"{field} must be a UUID (as Laminar's SDKs send it); got {shown}.")


def trace_hex(value: Any, field: str = "traceId") -> str:
    """A trace id as Lamina keeps it: 32 lowercase hex digits (Laminar sends a UUID)."""
    return as_uuid(value, field).hex
