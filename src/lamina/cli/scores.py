"""`lamina scores`: list, give and delete a project's scores (see lamina.query.scores)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lamina.cli.common import (
    connect,
    console,
    data_dir_option,
    handle_errors,
    json_option,
    print_json,
    project_option,
)
from lamina.cli.views import Cell, Column, print_table


@click.group()
def scores() -> None:
    """List, give and delete scores on sessions, traces and spans."""


@scores.command("list")
@project_option
@click.option("--session", "session_id", default=None, help="Only this session's scores.")
@click.option("--trace", "trace_id", default=None, help="Only this trace's scores.")
@click.option("--name", default=None, help="Only scores of this name.")
@click.option("--limit", default=50, show_default=True)
@json_option
@data_dir_option
@handle_errors
def scores_list(
    project: str,
    session_id: str | None,
    trace_id: str | None,
    name: str | None,
    limit: int,
    as_json: bool,
    data_dir: Path,
) -> None:
    """List the newest scores (a session's include its traces')."""
    given = {"session_id": session_id, "trace_id": trace_id, "name": name}
    params = {key: value for key, value in given.items() if value} | {"limit": str(limit)}
    with connect(data_dir) as ops:
        page = ops.list_scores(project=project, params=params)
    if as_json:
        print_json(page)
    else:
        print_scores(page["items"])


@scores.command("add")
@click.argument("name")
@click.argument("value")
@project_option
@click.option("--session", "session_id", default=None, help="Score this session.")
@click.option("--trace", "trace_id", default=None, help="Score this trace.")
@click.option("--span", "span_id", default=None, help="Score this span (with --trace).")
@click.option("--comment", default=None, help="Why.")
@json_option
@data_dir_option
@handle_errors
def scores_add(
    name: str,
    value: str,
    project: str,
    session_id: str | None,
    trace_id: str | None,
    span_id: str | None,
    comment: str | None,
    as_json: bool,
    data_dir: Path,
) -> None:
    """Give a score NAME of VALUE: a number, true or false, or a label of NAME's
    categories (see the project's score configs)."""
    item: dict[str, Any] = {"name": name}
    try:
        item["value"] = float(value)
    except ValueError:
        item["label"] = value
    given = {"session_id": session_id, "trace_id": trace_id, "span_id": span_id}
    item |= {key: found for key, found in given.items() if found is not None}
    if comment is not None:
        item["comment"] = comment
    with connect(data_dir) as ops:
        made = ops.add_score(project=project, item=item)["score"]
    if as_json:
        print_json(made)
    else:
        console.print(f"Gave the score {made['score_id']}.")


@scores.command("delete")
@click.argument("score_id")
@project_option
@data_dir_option
@handle_errors
def scores_delete(score_id: str, project: str, data_dir: Path) -> None:
    """Delete one score."""
    with connect(data_dir) as ops:
        ops.delete_score(project=project, score_id=score_id)
    console.print(f"Deleted score {score_id}.")


def print_scores(items: list[dict[str, Any]]) -> None:
    rows: list[list[Cell]] = []
    for item in items:
        value = item["label"] or ("—" if item["value"] is None else f"{item['value']:g}")
        on = item["span_id"] or item["trace_id"] or item["session_id"] or ""
        when = item["created_at"].strftime("%Y-%m-%d %H:%M:%S") if item["created_at"] else ""
        rows.append(
            [item["score_id"], item["name"], value, on, item["source"], when, item["comment"] or ""]
        )
    columns = [
        Column("Id", drop=5),
        Column("Name"),
        Column("Value"),
        Column("On", cut=32),
        Column("Source", drop=3),
        Column("Given", drop=4),
        Column("Comment", preview=True, drop=2),
    ]
    caption = None if items else "No scores."
    print_table(console, columns, rows, title="Scores", caption=caption)
