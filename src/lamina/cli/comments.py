"""`lamina comments`: list, write and delete the comments on a project's sessions,
traces and spans (see lamina.query.comments). The command writes as the admin token
(author ``admin``), which may delete any comment."""

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
def comments() -> None:
    """List, write and delete comments on sessions, traces and spans."""


@comments.command("list")
@project_option
@click.option("--session", "session_id", default=None, help="This session's comments.")
@click.option("--trace", "trace_id", default=None, help="This trace's comments.")
@click.option("--span", "span_id", default=None, help="Only this span's (with --trace).")
@click.option("--limit", default=50, show_default=True)
@json_option
@data_dir_option
@handle_errors
def comments_list(
    project: str,
    session_id: str | None,
    trace_id: str | None,
    span_id: str | None,
    limit: int,
    as_json: bool,
    data_dir: Path,
) -> None:
    """List comments, oldest first (a session's include its traces' and spans')."""
    given = {"session_id": session_id, "trace_id": trace_id, "span_id": span_id}
    params = {key: value for key, value in given.items() if value} | {"limit": str(limit)}
    with connect(data_dir) as ops:
        page = ops.list_comments(project=project, params=params)
    if as_json:
        print_json(page)
    else:
        print_comments(page["items"])


@comments.command("add")
@click.argument("body")
@project_option
@click.option("--session", "session_id", default=None, help="On this session.")
@click.option("--trace", "trace_id", default=None, help="On this trace.")
@click.option("--span", "span_id", default=None, help="On this span (with --trace).")
@json_option
@data_dir_option
@handle_errors
def comments_add(
    body: str,
    project: str,
    session_id: str | None,
    trace_id: str | None,
    span_id: str | None,
    as_json: bool,
    data_dir: Path,
) -> None:
    """Write a comment BODY (plain text) on a session, a trace or a span."""
    given = {"session_id": session_id, "trace_id": trace_id, "span_id": span_id}
    item: dict[str, Any] = {"body": body} | {k: v for k, v in given.items() if v is not None}
    with connect(data_dir) as ops:
        made = ops.add_comment(project=project, item=item)["comment"]
    if as_json:
        print_json(made)
    else:
        console.print(f"Wrote the comment {made['comment_id']}.")


@comments.command("delete")
@click.argument("comment_id")
@project_option
@data_dir_option
@handle_errors
def comments_delete(comment_id: str, project: str, data_dir: Path) -> None:
    """Delete one comment."""
    with connect(data_dir) as ops:
        ops.delete_comment(project=project, comment_id=comment_id)
    console.print(f"Deleted comment {comment_id}.")


def print_comments(items: list[dict[str, Any]]) -> None:
    rows: list[list[Cell]] = []
    for item in items:
        on = item["span_id"] or item["trace_id"] or item["session_id"] or ""
        when = item["created_at"].strftime("%Y-%m-%d %H:%M:%S") if item["created_at"] else ""
        rows.append([item["comment_id"], item["author"] or "", on, when, item["body"]])
    columns = [
        Column("Id", drop=4),
        Column("Author"),
        Column("On", cut=32, drop=3),
        Column("Written", drop=2),
        Column("Comment", preview=True),
    ]
    caption = None if items else "No comments."
    print_table(console, columns, rows, title="Comments", caption=caption)
