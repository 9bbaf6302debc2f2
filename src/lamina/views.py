"""Terminal views for the CLI: rich tables of projects, keys, sessions and traces."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from lamina import formatting as fmt
from lamina.query.preview import error_text


def _date(ns: int | None) -> str:
    if ns is None:
        return "—"
    return datetime.fromtimestamp(ns / 1e9).astimezone().strftime("%Y-%m-%d %H:%M")


def projects_table(projects: list[dict[str, Any]]) -> Table:
    table = Table("Name", "Id", "Created", "Keeps traces", title="Projects", title_justify="left")
    for project in projects:
        days = project.get("retention_days")
        kept = "for ever" if not days else f"{days} day" + ("s" if days > 1 else "")
        table.add_row(project["name"], project["id"], _date(project["created_ns"]), kept)
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


def _short_time(iso_time: str | None) -> str:
    return fmt.clock(iso_time)[5:16]  # MM-DD HH:MM


def _fitted(
    headers: list[str], rows: list[list[str | Text]], width: int, right: frozenset[int]
) -> Table:
    """A table whose every column shows in full but the last (a preview), which is cut
    to the space left on the terminal, so ids stay whole and copyable."""
    widths = [
        max([len(header), *(len(str(row[i])) for row in rows)])
        for i, header in enumerate(headers[:-1])
    ]
    room = width - sum(widths) - 3 * len(headers) - 2
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for i, header in enumerate(headers[:-1]):
        table.add_column(header, no_wrap=True, justify="right" if i in right else "left")
    if room < 12:  # no space for the preview on this terminal: leave it out
        for row in rows:
            table.add_row(*row[:-1])
        return table
    table.add_column(headers[-1], no_wrap=True)
    for row in rows:
        preview = str(row[-1])
        if len(preview) > room:
            preview = preview[: room - 1] + "…"
        table.add_row(*row[:-1], preview)
    return table


def sessions_table(sessions: list[dict[str, Any]], width: int = 100) -> Table:
    rows: list[list[str | Text]] = []
    for s in sessions:
        session = Text(s["session_id"])
        if s["error_count"]:
            session.append(f" ●{s['error_count']}", style="red")
        rows.append(
            [
                session,
                _short_time(s["start_time"]),
                fmt.duration(s["duration_ms"]),
                fmt.duration(s["active_duration_ms"]),
                str(s["trace_count"]),
                fmt.tokens(s["total_tokens"]),
                fmt.cost(s["cost"]),
                ", ".join(s["user_ids"]) or "—",
                s["last_output"] or "",
            ]
        )
    headers = [
        "Session",
        "Started",
        "Duration",
        "Active",
        "Traces",
        "Tokens",
        "Cost",
        "Users",
        "Last output",
    ]
    table = _fitted(headers, rows, width, frozenset({2, 3, 4, 5, 6}))
    table.title, table.title_justify = "Sessions", "left"
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
    rows: list[list[str | Text]] = [
        [
            fmt.clock(trace["start_time"])[11:],
            trace["trace_id"],
            trace["name"],
            fmt.duration(trace["duration_ms"]),
            Text(trace["status"], style="red" if trace["status"] == "error" else "green"),
            fmt.tokens(trace["total_tokens"]),
            fmt.cost(trace["cost"]),
            f"{trace['input_preview'] or '—'} → {trace['output_preview'] or '—'}",
        ]
        for trace in session["traces"]
    ]
    headers = ["Started", "Trace", "Name", "Duration", "Status", "Tokens", "Cost", "Input → output"]
    console.print(_fitted(headers, rows, console.width, frozenset({3, 5, 6})))


def print_trace(console: Console, trace: dict[str, Any]) -> None:
    failed = next((span for span in trace["spans"] if span["status"] == "error"), None)
    status = trace["status"]
    if failed is not None:
        status += f" ({failed['name']}: {error_text(failed['events'], failed['status_message'])})"
    console.print(
        f"[bold]{escape(trace['name'])}[/]  {fmt.duration(trace['duration_ms'])} · "
        f"{trace['span_count']} spans · {fmt.tokens(trace['total_tokens'])} tokens · "
        f"{fmt.cost(trace['cost'])} · {escape(status)}"
        + (f" · session {escape(trace['session_id'])}" if trace["session_id"] else ""),
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
            if span["status"] == "error":
                error = error_text(span["events"], span["status_message"])
                label.append(f"  {error}", style="red")
            add(node.add(label), span["span_id"])

    add(tree, None)
    console.print(tree)
