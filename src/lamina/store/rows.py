"""Rows as the Store protocol returns them, shared by every store.

A store's query gives plain dicts of columns; these helpers add the derived
fields (durations, totals), parse JSON columns and cut pages, so both stores
answer in exactly the same shape.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from lamina.query.params import Cursor, Page
from lamina.store.base import Row


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def page(rows: list[Row], limit: int, sort: str, key: str) -> Page[Row]:
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        cursor = Cursor(sort, rows[-1]["_sort"], rows[-1][key]).encode()
    for row in rows:
        del row["_sort"]
    return Page(rows, cursor)


def parse_json(text: Any, default: Any) -> Any:
    if text is None:
        return default
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return default


def duration_ms(row: dict[str, Any]) -> float:
    return round(max(0, int(row["end_ns"]) - int(row["start_ns"])) / 1e6, 3)


def total_tokens(row: dict[str, Any]) -> int | None:
    if row["input_tokens"] is None and row["output_tokens"] is None:
        return None
    return int(row["input_tokens"] or 0) + int(row["output_tokens"] or 0)


def session_row(row: dict[str, Any]) -> Row:
    out = dict(row)
    out["duration_ms"] = duration_ms(row)
    out["active_duration_ms"] = round(float(row["active_ns"] or 0) / 1e6, 3)
    del out["active_ns"]
    out["total_tokens"] = total_tokens(row)
    out["user_ids"] = sorted(row["user_ids"] or [])
    return out


def span_row(row: dict[str, Any]) -> Row:
    out = dict(row)
    out["duration_ms"] = duration_ms(row)
    out["tags"] = list(row["tags"] or [])
    out["metadata"] = parse_json(row["metadata"], {})
    out["attributes"] = parse_json(row["attributes"], {})
    out["events"] = parse_json(row["events"], [])
    out["resource"] = parse_json(row["resource"], {})
    return out


def outline_row(row: dict[str, Any]) -> Row:
    """A span without its payloads (see ``Store.session_spans``)."""
    return {**row, "duration_ms": duration_ms(row)}
