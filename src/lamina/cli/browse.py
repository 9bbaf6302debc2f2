"""`lamina sessions` and `lamina traces`: look at them in the terminal, or delete them."""

from __future__ import annotations

from pathlib import Path

import click

from lamina.cli import views
from lamina.cli.common import (
    connect,
    console,
    data_dir_option,
    handle_errors,
    json_option,
    print_json,
    project_option,
    show,
    yes_option,
)
from lamina.store.queries import EXPERIMENTS_SHOWN
from lamina.store.scores import OUTCOME

# -- sessions and traces ------------------------------------------------------------------------


@click.group()
def sessions() -> None:
    """Look at sessions in the terminal."""


@sessions.command("list")
@project_option
@click.option("--limit", default=20, show_default=True)
@click.option("--user", "user_id", default=None, help="Only sessions of this user id.")
@click.option(
    "--search", "q", default=None, help="Only sessions whose inputs or outputs contain this."
)
@click.option("--sort", default="start_time", show_default=True)
@click.option(
    "--experiments",
    type=click.Choice(EXPERIMENTS_SHOWN),
    default="exclude",
    show_default=True,
    help="The sessions of experiment runs: left out, with the others, or alone.",
)
@json_option
@data_dir_option
@handle_errors
def sessions_list(
    project: str,
    limit: int,
    user_id: str | None,
    q: str | None,
    sort: str,
    experiments: str,
    as_json: bool,
    data_dir: Path,
) -> None:
    """List the newest sessions."""
    params = {"limit": str(limit), "sort": sort, "experiments": experiments}
    if user_id:
        params["user_id"] = user_id
    if q:
        params["q"] = q
    with connect(data_dir) as ops:
        page = ops.list_sessions(project=project, params=params)
    if as_json:
        print_json(page)
    else:
        views.print_sessions(console, page["items"])


@sessions.command("show")
@click.argument("session_id")
@project_option
@json_option
@data_dir_option
@handle_errors
def sessions_show(session_id: str, project: str, as_json: bool, data_dir: Path) -> None:
    """Show one session and its traces."""
    with connect(data_dir) as ops:
        session = ops.get_session(project=project, session_id=session_id)
    show(as_json, session, views.print_session)


@click.group()
def traces() -> None:
    """Look at traces in the terminal."""


@sessions.command("delete")
@click.argument("session_id")
@project_option
@yes_option
@data_dir_option
@handle_errors
def sessions_delete(session_id: str, project: str, yes: bool, data_dir: Path) -> None:
    """Delete one session: all its traces and their spans."""
    if not yes:
        click.confirm(f'Delete session "{session_id}" and all its traces?', abort=True)
    with connect(data_dir) as ops:
        deleted = ops.delete_session(project=project, session_id=session_id)["deleted"]
    console.print(
        f'Deleted session "{session_id}": {deleted["traces"]} traces, {deleted["spans"]} spans.'
    )


@sessions.command("end")
@click.argument("session_id")
@click.option(
    "--outcome",
    type=click.Choice([category.label for category in OUTCOME.categories]),
    default=None,
    help="How the session went: given as its outcome score.",
)
@project_option
@json_option
@data_dir_option
@handle_errors
def sessions_end(
    session_id: str, outcome: str | None, project: str, as_json: bool, data_dir: Path
) -> None:
    """End a session now (it shows as ended), with its outcome if given."""
    with connect(data_dir) as ops:
        ended = ops.end_session(project=project, session_id=session_id, outcome=outcome)
    if as_json:
        print_json(ended)
    else:
        said = f" with the outcome {outcome}" if outcome else ""
        console.print(f'Ended session "{session_id}"{said}.')


@traces.command("show")
@click.argument("trace_id")
@project_option
@json_option
@data_dir_option
@handle_errors
def traces_show(trace_id: str, project: str, as_json: bool, data_dir: Path) -> None:
    """Show one trace as a span tree."""
    with connect(data_dir) as ops:
        trace = ops.get_trace(project=project, trace_id=trace_id)
    show(as_json, trace, views.print_trace)


@traces.command("delete")
@click.argument("trace_id")
@project_option
@yes_option
@data_dir_option
@handle_errors
def traces_delete(trace_id: str, project: str, yes: bool, data_dir: Path) -> None:
    """Delete one trace and its spans."""
    if not yes:
        click.confirm(f"Delete trace {trace_id}?", abort=True)
    with connect(data_dir) as ops:
        deleted = ops.delete_trace(project=project, trace_id=trace_id)["deleted"]
    console.print(f"Deleted trace {trace_id} ({deleted['spans']} spans).")
