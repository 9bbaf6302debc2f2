"""Laminar's SQL API (#24): ``POST /v1/sql/query`` ``{query, parameters}``, what
``LaminarClient().sql.query(sql, parameters)`` calls, run by Lamina's SQL console
(lamina.query.console: one read-only SELECT over the caller's project's rows, the same
guard and limits) and answered as Laminar does, ``{"data": [{column: value}, ...]}``.

Laminar's queries are ClickHouse SQL over its tables; before the console sees one it is
read as ClickHouse SQL and changed (docs/compatibility.md holds the map):

- ``{name:Type}`` parameters become the values ``parameters`` gives (a list as a tuple);
- ``spans`` and ``traces`` become Lamina's views with Laminar's column names beside
  Lamina's (``id``, ``top_span_name``, ``total_cost``, ``duration`` in seconds,
  ``total_tokens``, ``status`` of a trace; ``request_model``, ``response_model``...);
- a trace id written as a UUID (a parameter of type UUID, or a quoted UUID) is read as
  Lamina's 32 hex digits, and ids in the answer (``id``, ``trace_id``) are written back
  as UUIDs, as Laminar shows them;

then written in the store's dialect. Other tables of Laminar's (``events``,
``evaluation_datapoints``...) and ClickHouse functions a DuckDB store lacks are refused
by the console with its own message.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lamina.errors import BadRequest
from lamina.query import console
from lamina.server_runtime import ServerRuntime
from lamina.web.access import project_of
from lamina.web.api import JSONResponse
from lamina.web.laminar.wire import json_object

# Laminar's tables as Lamina's views with Laminar's column names added.
VIEWS = {
    "traces": (
        "SELECT *, trace_id AS id, name AS top_span_name, cost AS total_cost, "
        "duration_ms / 1000 AS duration, "
        "coalesce(input_tokens, 0) + coalesce(output_tokens, 0) AS total_tokens, "
        "CASE WHEN error_count > 0 THEN 'error' ELSE 'success' END AS status FROM traces"
    ),
    "spans": (
        "SELECT *, cost AS total_cost, duration_ms / 1000 AS duration, "
        "coalesce(input_tokens, 0) + coalesce(output_tokens, 0) AS total_tokens, "
        "model AS request_model, model AS response_model FROM spans"
    ),
}
# Answer columns holding trace ids, written back as UUIDs.
TRACE_ID_COLUMNS = frozenset({"id", "trace_id"})
_DASHED_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def translate(text: str, parameters: dict[str, Any], dialect: str) -> str:
    """A Laminar query as the SQL console of a store of ``dialect`` reads it."""
    try:
        statements = [s for s in sqlglot.parse(text, read="clickhouse") if s is not None]
    except SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadRequest(f"This is not a query Lamina can read: {first}") from None
    if len(statements) != 1:
        raise BadRequest("Send one SELECT query.")
    tree = statements[0]
    for placeholder in list(tree.find_all(exp.Placeholder)):
        placeholder.replace(_value(placeholder, parameters))
    for literal in list(tree.find_all(exp.Literal)):
        if literal.is_string and _DASHED_UUID.match(literal.this):
            literal.replace(exp.Literal.string(uuid.UUID(literal.this).hex))
    own = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        name = table.name.lower()
        if name in VIEWS and name not in own and not table.db and not table.catalog:
            view = sqlglot.parse_one(VIEWS[name], read=dialect)
            alias = exp.TableAlias(this=exp.to_identifier(table.alias_or_name))
            table.replace(exp.Subquery(this=view, alias=alias))
    return tree.sql(dialect=dialect)


def _value(placeholder: exp.Placeholder, parameters: dict[str, Any]) -> exp.Expr:
    name = placeholder.name
    if not name or name not in parameters:
        shown = f"{{{name}}}" if name else "?"
        raise BadRequest(f'The query uses the parameter {shown}: give it in "parameters".')
    kind = placeholder.args.get("kind")
    is_uuid = isinstance(kind, exp.DataType) and kind.this == exp.DataType.Type.UUID
    return _literal(parameters[name], is_uuid, name)


def _literal(value: Any, is_uuid: bool, name: str) -> exp.Expr:
    if isinstance(value, list):
        return exp.Tuple(expressions=[_literal(v, is_uuid, name) for v in value])
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if isinstance(value, str):
        if is_uuid:
            try:
                value = uuid.UUID(value).hex
            except ValueError:
                raise BadRequest(f"The parameter {name} must be a UUID.") from None
        return exp.Literal.string(value)
    raise BadRequest(f"The parameter {name} must be text, a number, true, false, null or a list.")


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The console's answer as Laminar's rows: an object a row, trace ids as UUIDs."""
    names = [column["name"] for column in result["columns"]]
    made = []
    for row in result["rows"]:
        values = dict(zip(names, row, strict=True))
        for name in TRACE_ID_COLUMNS & values.keys():
            value = values[name]
            if isinstance(value, str) and _HEX32.match(value):
                values[name] = str(uuid.UUID(hex=value))
        made.append(values)
    return made


async def _query(request: Request) -> Response:
    runtime: ServerRuntime = request.app.state.runtime
    project_id = await project_of(request)
    given = await json_object(request, runtime)
    text = given.get("query")
    parameters = given.get("parameters") or {}
    if not isinstance(text, str) or not text.strip():
        raise BadRequest('The body must give "query": one SELECT over spans or traces.')
    if not isinstance(parameters, dict):
        raise BadRequest('"parameters" must be an object of name to value.')
    if len(text) > console.MAX_QUERY_CHARS:
        raise BadRequest(f"A query may be at most {console.MAX_QUERY_CHARS:,} characters long.")
    translated = translate(text, parameters, runtime.store.sql_dialect)
    query = console.parse(translated, runtime.settings)
    result = await run_in_threadpool(console.run, runtime.store, project_id, query)
    return JSONResponse({"data": rows(result)})


routes = [Route("/v1/sql/query", _query, methods=["POST"])]
