"""Terminal views for the CLI: rich tables of projects, keys, sessions and traces."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from lamina import formatting as fmt


def _date(ns: int | None) -> str:
    if ns is None:
        return "—"
    return datetime.fromtimestamp(ns / 1e9).astimezone().strftime("%Y-%m-%d %H:%M")


def projects_table(projects: list[dict[str, Any]]) -> Table:
    table = Table("Name", "Id", "Created", title="Projects", title_justify="left")
    for project in projects:
        table.add_row(project["name"], project["id"], _date(project["created_ns"]))
    return table


def keys_table(keys: list[dict[str, Any]]) -> Table:
    table = Table(
        "Id",
        "Project",
        "Name",
        "Key starts",
        "Created",
        "Status",
        title="API keys",
        title_justify="left",
    )
    for key in keys:
        status = Text("revoked", style="red") if key["revoked_ns"] else Text("active", "green")
        table.add_row(
            key["id"],
            key["project"],
            key["name"],
            key["prefix"] + "…",
            _date(key["created_ns"]),
            status,
        )
    return table


def sessions_table(sessions: list[dict[str, Any]]) -> Table:
    table = Table(title="Sessions", title_justify="left")
    table.add_column("Session", overflow="fold")
    table.add_column("Started")
    for name in ("Duration", "Active", "Traces", "Tokens", "Cost"):
        table.add_column(name, justify="right")
    table.add_column("Users")
    table.add_column("Last output", max_width=40, overflow="ellipsis", no_wrap=True)
    for s in sessions:
        errors = f" [red]●{s['error_count']}[/]" if s["error_count"] else ""
        table.add_row(
            s["session_id"] + errors,
            fmt.clock(s["start_time"]),
            fmt.duration(s["duration_ms"]),
            fmt.duration(s["active_duration_ms"]),
            str(s["trace_count"]),
            fmt.tokens(s["total_tokens"]),
            fmt.cost(s["cost"]),
            ", ".join(s["user_ids"]) or "—",
            s["last_output"] or "",
        )
    if not sessions:
        table.caption = "No sessions yet. Send traces with a session id to see them here."
    return table


def print_session(console: Console, session: dict[str, Any]) -> None:
    console.print(
        f"[bold]{session['session_id']}[/]  {session['trace_count']} traces · "
        f"{fmt.duration(session['duration_ms'])} (active "
        f"{fmt.duration(session['active_duration_ms'])}) · "
        f"{fmt.tokens(session['total_tokens'])} tokens · {fmt.cost(session['cost'])} · "
        f"users {', '.join(session['user_ids']) or '—'}",
        highlight=False,
    )
    table = Table(
        "Started", "Trace", "Name", "Duration", "Status", "Tokens", "Cost", "Input → output"
    )
    for trace in session["traces"]:
        status = Text(trace["status"], style="red" if trace["status"] == "error" else "green")
        table.add_row(
            fmt.clock(trace["start_time"]),
            trace["trace_id"],
            trace["name"],
            fmt.duration(trace["duration_ms"]),
            status,
            fmt.tokens(trace["total_tokens"]),
            fmt.cost(trace["cost"]),
            f"{(trace['input_preview'] or '')[:40]} → {(trace['output_preview'] or '')[:40]}",
        )
    console.print(table)


def print_trace(console: Console, trace: dict[str, Any]) -> None:
    console.print(
        f"[bold]{trace['name']}[/]  {fmt.duration(trace['duration_ms'])} · "
        f"{trace['span_count']} spans · {fmt.tokens(trace['total_tokens'])} tokens · "
        f"{fmt.cost(trace['cost'])} · {trace['status']}"
        + (f" · session {trace['session_id']}" if trace["session_id"] else ""),
        highlight=False,
    )
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    ids = {span["span_id"] for span in trace["spans"]}
    for span in trace["spans"]:
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children[parent].append(span)
    tree = Tree(f"trace {trace['trace_id']}")

    def add(node: Tree, parent: str | None) -> None:
        for span in children.get(parent, []):
            label = Text(span["name"], style="bold red" if span["status"] == "error" else "bold")
            label.append(f"  {span['span_type']}" if span["span_type"] != "DEFAULT" else "")
            label.append(f"  {fmt.duration(span['duration_ms'])}", style="dim")
            if span["model"]:
                label.append(f"  {span['model']}", style="cyan")
            if span["input_tokens"] or span["output_tokens"]:
                label.append(f"  {span['input_tokens'] or 0} → {span['output_tokens'] or 0} tok")
            if span["cost"]:
                label.append(f"  {fmt.cost(span['cost'])}")
            add(node.add(label), span["span_id"])

    add(tree, None)
    console.print(tree)
