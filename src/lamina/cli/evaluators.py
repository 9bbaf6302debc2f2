"""`lamina evaluators`: list, add and try a project's evaluators (see lamina.evaluation).

Through the running server when there is one (its JSON API), else on the data dir's
store directly; the runs then start once a server runs on it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import orjson

from lamina.cli.common import (
    connect,
    console,
    data_dir_option,
    fail,
    handle_errors,
    json_option,
    print_json,
    project_option,
)
from lamina.cli.views import Cell, Column, print_table
from lamina.errors import BadRequest


@click.group(short_help="List, add and try evaluators: checks and LLM judges.")
def evaluators() -> None:
    """List, add and try evaluators: automatic checks and LLM judges."""


@evaluators.command("list")
@project_option
@json_option
@data_dir_option
@handle_errors
def evaluators_list(project: str, as_json: bool, data_dir: Path) -> None:
    """List the project's evaluators."""
    with connect(data_dir) as ops:
        items = _list(ops, project, data_dir)
    if as_json:
        print_json({"items": items})
        return
    rows: list[list[Cell]] = []
    for item in items:
        what = (item.get("check") or {}).get("type") or (item.get("llm") or {}).get("model", "")
        state = item.get("state") or ("ok" if item["enabled"] else "disabled")
        quiet = str(item["quiet_seconds"])
        rows.append([item["id"], item["name"], item["kind"], what, item["target"], state, quiet])
    columns = [
        Column("Id", drop=3),
        Column("Name"),
        Column("Kind"),
        Column("Check or model"),
        Column("Target", drop=4),
        Column("State"),
        Column("Quiet (s)", drop=5),
    ]
    caption = None if items else "No evaluators."
    print_table(console, columns, rows, title="Evaluators", caption=caption)
    for item in items:  # a failing one's error, in words
        if item.get("state") == "failing":
            console.print(f"{item['name']} is failing: {item['last_error']}", markup=False)


@evaluators.command("add")
@click.argument("definition")
@project_option
@json_option
@data_dir_option
@handle_errors
def evaluators_add(definition: str, project: str, as_json: bool, data_dir: Path) -> None:
    """Define an evaluator from DEFINITION: its JSON, or @FILE holding it (see
    docs/api.md, "Evaluators")."""
    text = Path(definition[1:]).read_text() if definition.startswith("@") else definition
    try:
        given = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The definition is not JSON: {exc}") from None
    with connect(data_dir) as ops:
        made = _call(ops, data_dir, "add_evaluator", project, given)
    if as_json:
        print_json(made)
    else:
        console.print(f'Added the evaluator "{made["name"]}" ({made["id"]}).')


@evaluators.command("test")
@click.argument("evaluator")
@project_option
@click.option("--session", "session_id", default=None, help="Try it on this session.")
@click.option("--trace", "trace_id", default=None, help="Try it on this trace.")
@json_option
@data_dir_option
@handle_errors
def evaluators_test(
    evaluator: str,
    project: str,
    session_id: str | None,
    trace_id: str | None,
    as_json: bool,
    data_dir: Path,
) -> None:
    """Try EVALUATOR (its name or id) on a session or trace: the score it would give,
    stored nowhere."""
    target = {"session_id": session_id} if session_id else {"trace_id": trace_id or ""}
    with connect(data_dir) as ops:
        found = [e for e in _list(ops, project, data_dir) if evaluator in (e["id"], e["name"])]
        if not found:
            raise BadRequest(f'No evaluator "{evaluator}" in this project.')
        tried = _call(ops, data_dir, "test_evaluator", project, found[0]["id"], target)
    if as_json:
        print_json(tried)
        return
    score = tried["score"]
    if tried.get("error"):
        fail(f"The judge gave no score: {tried['error']}")
        return
    if score is None:
        console.print(f"Skipped: {tried['skipped']}")
        return
    console.print(f"{score['name']} = {score['value']:g}  (turn {score['trace_id'] or '-'})")
    console.print(score["comment"] or "", markup=False)


def _list(ops: Any, project: str, data_dir: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _call(ops, data_dir, "list_evaluators", project)
    return items


def _call(ops: Any, data_dir: Path, name: str, project: str, *args: Any) -> Any:
    """``name`` through the server's API, or on the store directly."""
    from lamina.cli.client import ApiClient

    if isinstance(ops, ApiClient):
        return getattr(ops, name)(project, *args)
    from lamina.evaluation import definition, manage
    from lamina.evaluation.llm import allowed_hosts
    from lamina.evaluation.secrets import KeyBox
    from lamina.operations import find_project

    project_id = find_project(ops.store, project).id
    if name == "list_evaluators":
        return _plain(
            [manage.shown(ops.store, project_id, e) for e in ops.store.list_evaluators(project_id)]
        )
    keys = KeyBox(data_dir)
    if name == "add_evaluator":
        return _plain(definition.present(manage.save(ops.store, keys, project_id, *args)))
    evaluator_id, target = args
    found = manage.find(ops.store, project_id, evaluator_id)
    # the hosts a judge may call at a private address, as a server here would allow
    allowed = allowed_hosts(os.environ.get("LAMINA_EVALUATOR_ALLOWED_HOSTS", ""))
    return _plain(manage.dry_run(ops.store, keys, project_id, found, target, allowed))


def _plain(value: Any) -> Any:
    """As the API would answer it (times as text)."""
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_UTC_Z))
