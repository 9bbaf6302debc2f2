"""Rows as the Store protocol returns them, shared by every store.

A store's query gives plain dicts of columns; these helpers add the derived
fields (durations, totals), parse JSON columns and cut pages, so both stores
answer in exactly the same shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any, TypeVar

import orjson

from lamina.store.base import Row
from lamina.store.queries import Cursor, Page


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


# A trace is read with each span's large values cut to this many characters: 17 spans
# of 15 MB could not be read at once in a store of 256 MB (503), and a page of them
# would be megabytes of HTML. The cut values are named in the span's ``truncated``
# (field: full length in characters), and GET /api/v1/traces/{id}/spans/{id}/{field}
# answers one whole value.
TRACE_VALUE_CHARS = 65_536
LARGE_FIELDS = ("input", "output", "metadata", "attributes", "events", "resource")
# What a check reads of a span (lamina.evaluation.checks, Store.check_traces): its
# large values input and output, cut as a trace's are; not the JSON of its attributes,
# events, resource and metadata, which reading and parsing made most of a trace's cost.
CHECK_SPAN_FIELDS = (
    "span_id, parent_span_id, name, span_type, start_ns, end_ns, status, status_message, "
    "input, output"
)
CHECK_LARGE_FIELDS = ("input", "output")


# Which spans a check reads (Store.check_traces ``spans_of``), each kind as its condition
# in both stores' SQL: a check that reads only a trace's failed spans or tool calls is
# not given the rest (an LLM call's input, the chat so far, is most of what a session
# holds).
CHECK_SPAN_KINDS = {"error": "status = 'error'", "tool": "span_type = 'TOOL'"}


def check_span_condition(spans: Collection[str] | None) -> str:
    """`` AND (...)``: the condition on the spans of the kinds ``spans`` (None: every
    span, no condition; none: no span)."""
    if spans is None:
        return ""
    kinds = [CHECK_SPAN_KINDS[kind] for kind in sorted(spans)] or ["false"]
    return " AND (" + " OR ".join(kinds) + ")"


def check_span_fields(payloads: Sequence[str]) -> str:
    """CHECK_SPAN_FIELDS with each large field not in ``payloads`` read as NULL (the
    spans' input and output were 35-40% of a check batch's read CPU, session 15)."""
    return ", ".join(
        f"NULL AS {name}" if name in CHECK_LARGE_FIELDS and name not in payloads else name
        for name in (field.strip() for field in CHECK_SPAN_FIELDS.split(","))
    )


# A JSON field cut short no longer parses: the trace shows it empty, and truncated.
_EMPTY_JSON = {"metadata": "{}", "attributes": "{}", "events": "[]", "resource": "{}"}


def cut_fields(fields: str, length: str, cut: str) -> str:
    """``fields`` (a store's SPAN_FIELDS) with each large one cut to TRACE_VALUE_CHARS
    characters and its full length beside it (``<field>_chars``, NULL when whole).
    ``length`` and ``cut`` are the dialect's functions, as templates of ``{f}`` and
    ``{n}``; the cut value is ``<field>_cut`` (see :func:`cut_span_row`)."""
    n = TRACE_VALUE_CHARS
    out = []
    for name in (field.strip() for field in fields.split(",")):
        if name in LARGE_FIELDS:
            size = length.format(f=name)
            # Named apart: in ClickHouse an alias is seen by the whole SELECT, so one
            # named after the column would make the length below the cut value's.
            out.append(f"CASE WHEN {size} > {n} THEN {cut.format(f=name, n=n)} ELSE {name} END")
            out[-1] += f" AS {name}_cut"
            out.append(f"CASE WHEN {size} > {n} THEN {size} END AS {name}_chars")
        else:
            out.append(name)
    return ", ".join(out)


def cut_span_row(row: dict[str, Any]) -> Row:
    """A span read with :func:`cut_fields`: a ``truncated`` map names the values cut."""
    return trace_span_row(row, cut_columns(row))


def cut_columns(row: dict[str, Any], fields: Sequence[str] = LARGE_FIELDS) -> dict[str, int]:
    """Each large value (of ``fields``) of a row read with :func:`cut_fields` put in its
    field's place; the full lengths of those cut (field: characters)."""
    truncated = {}
    for name in fields:
        row[name] = row.pop(f"{name}_cut")
        chars = row.pop(f"{name}_chars", None)
        if chars is not None:
            truncated[name] = int(chars)
    return truncated


def trace_span_row(row: dict[str, Any], truncated: dict[str, int]) -> Row:
    """A span as a trace shows it, its large values cut to TRACE_VALUE_CHARS characters
    where ``truncated`` gives their full lengths (then named in the span's own)."""
    for name in truncated:
        if name in _EMPTY_JSON:
            row[name] = _EMPTY_JSON[name]
    out = span_row(row)
    if truncated:
        out["truncated"] = truncated
    return out


def check_span_row(row: dict[str, Any], truncated: dict[str, int]) -> Row:
    """A span as a check reads it (CHECK_SPAN_FIELDS), ``truncated`` as a trace's."""
    out = {**row, "duration_ms": duration_ms(row)}
    if truncated:
        out["truncated"] = truncated
    return out


def whole_value(field: str, text: str | None) -> Any:
    """One whole value of a span, as a trace shows it when it is not cut."""
    if field in _EMPTY_JSON:
        return parse_json(text, orjson.loads(_EMPTY_JSON[field]))
    return text


T = TypeVar("T")


def first_and_last(items: list[T], most: int) -> list[T]:
    """``items``, or their first and last halves of ``most`` when there are more (a
    session judged on its first and last turns)."""
    if len(items) <= most:
        return items
    return items[: most // 2] + items[len(items) - (most - most // 2) :]
