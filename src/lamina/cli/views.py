"""Terminal views for the CLI: tables of projects, keys, users, sessions and traces.

Sessions and traces are what :mod:`lamina.query.present` gives (times as
``datetime``), from the store or, through :mod:`lamina.cli.client`, from a running
server. A table fits the terminal without cutting what people copy: ids, times,
numbers and costs are always shown whole. When the table is too wide, names are cut
first, then the columns each table ranks least important are left out, one at a time;
a preview takes the room left, on up to two lines, or is left out too. A table that
still does not fit is printed wider than the terminal, which wraps its lines: nothing
is cut.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from lamina import formatting as fmt
from lamina.query import present
from lamina.spans.preview import error_text

Cell = str | Text
GAP = 3  # between two columns: a space of padding each side and the separator
PREVIEW_MIN = 16  # a preview narrower than this is left out
PREVIEW_LINES = 2


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    right: bool = False
    drop: int = 0  # left out when the table is too wide, the highest first; 0: never
    cut: int = 0  # a name, cut to this many characters when the table is too wide
    preview: bool = False  # free text: the room left, on up to PREVIEW_LINES lines


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    title: str | None = None,
    caption: str | None = None,
) -> None:
    width = console.width
    natural = [
        max([cell_len(c.header), *(cell_len(_plain(row[i])) for row in rows)])
        for i, c in enumerate(columns)
    ]
    widths = list(natural)
    kept = list(range(len(columns)))

    def needed() -> int:
        sizes = [min(widths[i], PREVIEW_MIN) if columns[i].preview else widths[i] for i in kept]
        return sum(sizes) + GAP * (len(kept) - 1)

    if needed() > width:
        widths = [min(w, c.cut) if c.cut else w for w, c in zip(natural, columns, strict=True)]
    for i in sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop):
        if needed() <= width:
            break
        kept.remove(i)
    fixed = sum(widths[i] for i in kept if not columns[i].preview) + GAP * (len(kept) - 1)
    room = max(PREVIEW_MIN, width - fixed)  # for the preview, when it is kept
    total = fixed + sum(min(natural[i], room) for i in kept if columns[i].preview)
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        title=title,
        title_justify="left",
        title_style="bold",
        caption=caption,
        caption_justify="left",
    )
    for i in kept:
        column = columns[i]
        table.add_column(
            column.header,
            justify="right" if column.right else "left",
            no_wrap=not column.preview,
            width=min(natural[i], room) if column.preview else None,
        )
    for row in rows:
        cells: list[Cell] = []
        for i in kept:
            cell = row[i]
            if columns[i].preview:
                cell = _lines(_plain(cell), room)
            elif cell_len(_plain(cell)) > widths[i]:
                cell = _plain(cell)[: widths[i] - 1] + "…"
            cells.append(cell)
        table.add_row(*cells)
    console.print(table, width=max(width, total))


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _lines(text: str, width: int) -> str:
    lines = textwrap.wrap(text, width, max_lines=PREVIEW_LINES, placeholder=" …")
    return "\n".join(lines)


def _date(ns: int | None) -> str:
    """A project's, key's or user's ``created_ns`` as a local date and minute."""
    return fmt.clock(present.moment(ns))[:16]


def _status(text: str, bad: bool) -> Text:
    return Text(text, style="red" if bad else "green")


def print_projects(console: Console, projects: list[dict[str, Any]]) -> None:
    rows: list[list[Cell]] = []
    for project in projects:
        days = project.get("retention_days")
        kept = "for ever" if not days else f"{days} day" + ("s" if days > 1 else "")
        rows.append([project["name"], project["id"], _date(project["created_ns"]), kept])
    columns = [
        Column("Name"),
        Column("Id"),
        Column("Created", drop=2),
        Column("Keeps traces", drop=1),
    ]
    print_table(console, columns, rows, title="Projects")


def print_keys(console: Console, keys: list[dict[str, Any]]) -> None:
    rows: list[list[Cell]] = [
        [
            key["id"],
            key["project"],
            key["name"],
            key["prefix"] + "…",
            _date(key["created_ns"]),
            _status("revoked", True) if key["revoked_ns"] else _status("active", False),
        ]
        for key in keys
    ]
    columns = [
        Column("Id"),
        Column("Project", cut=16),
        Column("Name", cut=16, drop=2),
        Column("Key starts", drop=1),
        Column("Created", drop=3),
        Column("Status"),
    ]
    caption = None if keys else "No keys. Make one with: lamina keys create --project NAME"
    print_table(console, columns, rows, title="API keys", caption=caption)


def print_users(console: Console, users: list[dict[str, Any]]) -> None:
    rows: list[list[Cell]] = [
        [
            user["email"],
            user["id"],
            "admin" if user["is_admin"] else "member",
            _date(user["created_ns"]),
        ]
        for user in users
    ]
    columns = [Column("Email"), Column("Id", drop=2), Column("Role"), Column("Created", drop=1)]
    caption = None if users else "No users. Make one with: lamina users create EMAIL --admin"
    print_table(console, columns, rows, title="Users", caption=caption)


def _short_time(moment: datetime | None) -> str:
    return fmt.clock(moment)[5:16]  # MM-DD HH:MM


def print_sessions(console: Console, sessions: list[dict[str, Any]]) -> None:
    rows: list[list[Cell]] = []
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
    columns = [
        Column("Session"),
        Column("Started", drop=4),
        Column("Duration", right=True, drop=6),
        Column("Active", right=True, drop=8),
        Column("Traces", right=True, drop=3),
        Column("Tokens", right=True, drop=7),
        Column("Cost", right=True, drop=5),
        Column("Users", cut=16, drop=9),
        Column("Last output", preview=True, drop=2),
    ]
    caption = None if sessions else "No sessions yet. Send traces with a session id to see them."
    print_table(console, columns, rows, title="Sessions", caption=caption)


def print_session(console: Console, session: dict[str, Any]) -> None:
    console.print(
        f"[bold]{escape(session['session_id'])}[/]  {session['trace_count']} traces · "
        f"{fmt.duration(session['duration_ms'])} (active "
        f"{fmt.duration(session['active_duration_ms'])}) · "
        f"{fmt.tokens(session['total_tokens'])} tokens · {fmt.cost(session['cost'])} · "
        f"users {escape(', '.join(session['user_ids'])) or '—'}",
        highlight=False,
    )
    console.print(_standing(session), highlight=False)
    rows: list[list[Cell]] = [
        [
            fmt.clock(trace["start_time"])[11:],
            trace["trace_id"],
            trace["name"],
            fmt.duration(trace["duration_ms"]),
            _status(trace["status"], trace["status"] == "error"),
            fmt.tokens(trace["total_tokens"]),
            fmt.cost(trace["cost"]),
            f"{trace['input_preview'] or '—'} → {trace['output_preview'] or '—'}",
        ]
        for trace in session["traces"]
    ]
    columns = [
        Column("Started", drop=3),
        Column("Trace"),
        Column("Name", cut=20),
        Column("Duration", right=True, drop=4),
        Column("Status"),
        Column("Tokens", right=True, drop=6),
        Column("Cost", right=True, drop=5),
        Column("Input → output", preview=True, drop=1),
    ]
    print_table(console, columns, rows)


def _standing(session: dict[str, Any]) -> str:
    """Whether the session is active or ended, and its scores' averages by name."""
    ended = session.get("ended_at")
    status = f"ended {fmt.clock(ended)}" if ended else str(session.get("status") or "active")
    summary = session.get("score_summary") or {}
    scores = ", ".join(
        f"{escape(name)} {'—' if s['avg'] is None else format(s['avg'], '.3g')} ({s['count']})"
        for name, s in sorted(summary.items())
    )
    return f"{status} · scores: {scores}" if scores else status


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
