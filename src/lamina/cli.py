"""The ``lamina`` command.

Administrative commands work whether or not a server is running on the same
data dir: when one is, they go through it (see :mod:`lamina.operations`).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from lamina import operations, views
from lamina.errors import LaminaError
from lamina.settings import Settings

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False)
    sys.exit(code)


def handle_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LaminaError as exc:
            _fail(exc.message, 2 if exc.code == "config_error" else 1)

    return wrapper  # type: ignore[return-value]


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="LAMINA_DATA_DIR",
    default=Path(".lamina"),
    show_default=True,
    help="Data directory of the Lamina server (env LAMINA_DATA_DIR).",
)


@contextmanager
def connect(data_dir: Path) -> Iterator[Any]:
    """The operations for this data dir: through the running server, or directly."""
    running = operations.running_server(data_dir)
    if running is not None:
        yield operations.RemoteOperations(running["url"], operations.admin_token(data_dir))
        return
    from lamina import datadir
    from lamina.serve.server import open_store

    datadir.make_private(data_dir)
    store = open_store(Settings.load({"data_dir": data_dir}))  # --store from LAMINA_STORE
    try:
        project, first_key = operations.ensure_default_project(store)
        if first_key is not None:  # a new data dir: this is the only time the key is shown
            click.echo(f'Project "{project.name}" API key: {first_key}   (shown once)', err=True)
        yield operations.Operations(store)
    finally:
        store.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lamina")
def main() -> None:
    """Lamina: self-hostable observability for LLM applications."""


# -- serve ----------------------------------------------------------------------------


def _settings_options(func: F) -> F:
    """One option per setting, from the Settings object, so the two never drift."""
    for spec in reversed(fields(Settings)):
        flag = "--" + spec.name.replace("_", "-")
        help_text = f"{spec.metadata['help']} [env {spec.metadata['env']}]"
        if isinstance(spec.default, bool):
            option = click.option(flag, spec.name, is_flag=True, default=None, help=help_text)
        elif isinstance(spec.default, int):
            option = click.option(flag, spec.name, type=int, default=None, help=help_text)
        elif spec.name in ("data_dir", "price_file"):
            option = click.option(
                flag, spec.name, type=click.Path(path_type=Path), default=None, help=help_text
            )
        else:
            option = click.option(flag, spec.name, default=None, help=help_text)
        func = option(func)
    return func


@main.command()
@_settings_options
@handle_errors
def serve(**flags: Any) -> None:
    """Run the server: web pages, JSON API, OTLP/HTTP and OTLP/gRPC."""
    from lamina import demo
    from lamina.serve.server import serve as run

    settings = Settings.load(flags)
    run(settings, after_start=demo.load_on_start if settings.demo else None)


# -- demo -----------------------------------------------------------------------------


@main.command("demo")
@data_dir_option
@click.option("--url", help="Send to this server instead of the one running on --data-dir.")
@click.option("--key", envvar="LAMINA_PROJECT_API_KEY", help="Project API key for --url.")
@handle_errors
def demo_command(data_dir: Path, url: str | None, key: str | None) -> None:
    """Send realistic demo sessions to a server, through OTLP."""
    from lamina import demo

    if url is None:
        running = operations.running_server(data_dir)
        if running is None:
            _fail(
                f"No Lamina server is running on {data_dir}. Start one with `lamina serve`, "
                "or pass --url and --key."
            )
            return
        url = str(running["url"])
        with connect(data_dir) as ops:
            created = ops.create_key(project=operations.DEFAULT_PROJECT, name="demo")
            key = created["key"]
    if not key:
        _fail("Pass --key (or set LAMINA_PROJECT_API_KEY) with --url.")
        return
    count = demo.send(url, key, progress=True)
    console.print(f"Sent {count} demo spans to {url}.")


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (the API's fields), for scripts."
)


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


# -- projects ---------------------------------------------------------------------------


@main.group(short_help="Create, list and delete projects; set how long they keep traces.")
def projects() -> None:
    """Create, list and delete projects, and set how long each keeps its traces."""


@projects.command("create")
@click.argument("name")
@data_dir_option
@handle_errors
def projects_create(name: str, data_dir: Path) -> None:
    """Create a project called NAME."""
    with connect(data_dir) as ops:
        project = ops.create_project(name=name)
    console.print(f'Created project "{project["name"]}" ({project["id"]}).')
    console.print(f"Make an API key for it: lamina keys create --project {project['name']}")


@projects.command("list")
@json_option
@data_dir_option
@handle_errors
def projects_list(as_json: bool, data_dir: Path) -> None:
    """List projects."""
    with connect(data_dir) as ops:
        found = ops.list_projects()
    if as_json:
        _print_json(found)
    else:
        views.print_projects(console, found)


yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


@projects.command("delete", short_help="Delete a project with all its data and keys.")
@click.argument("name")
@yes_option
@data_dir_option
@handle_errors
def projects_delete(name: str, yes: bool, data_dir: Path) -> None:
    """Delete the project NAME with all its traces, sessions and API keys."""
    if not yes:
        click.confirm(
            f'Delete project "{name}", all its data and its API keys? This cannot be undone',
            abort=True,
        )
    with connect(data_dir) as ops:
        result = ops.delete_project(project=name)
    deleted = result["deleted"]
    console.print(
        f'Deleted project "{result["project"]}": {deleted["traces"]} traces, '
        f"{deleted['spans']} spans."
    )


@projects.command("retention", short_help="Keep a project's traces DAYS days.")
@click.argument("name")
@click.argument("days", type=click.IntRange(0, 36_500))
@data_dir_option
@handle_errors
def projects_retention(name: str, days: int, data_dir: Path) -> None:
    """Keep project NAME's traces DAYS days (0: for ever); older ones are deleted now and
    from then on by the server."""
    with connect(data_dir) as ops:
        result = ops.set_retention(project=name, days=days)
    kept = (f"{days} day" + ("s" if days > 1 else "")) if days else "for ever"
    deleted = result["deleted"]
    console.print(
        f'Project "{result["name"]}" keeps traces {kept}. Deleted now: '
        f"{deleted['traces']} traces, {deleted['spans']} spans."
    )


# -- keys ----------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Create, list and revoke project API keys."""


@keys.command("create")
@click.option("--project", default=operations.DEFAULT_PROJECT, show_default=True)
@click.option("--name", default="default", show_default=True, help="A label for the key.")
@data_dir_option
@handle_errors
def keys_create(project: str, name: str, data_dir: Path) -> None:
    """Create an API key; prints only the key, so scripts can capture it."""
    with connect(data_dir) as ops:
        created = ops.create_key(project=project, name=name)
    click.echo(created["key"])
    err_console.print(
        f'Key {created["id"]} for project "{created["project"]}". It is shown only once.',
        highlight=False,
    )


@keys.command("list")
@click.option("--project", default=None, help="Only this project's keys.")
@json_option
@data_dir_option
@handle_errors
def keys_list(project: str | None, as_json: bool, data_dir: Path) -> None:
    """List API keys (their ids and first characters, never the secret)."""
    with connect(data_dir) as ops:
        found = ops.list_keys(project=project)
    if as_json:
        _print_json(found)
    else:
        views.print_keys(console, found)


@keys.command("revoke")
@click.argument("key_id")
@data_dir_option
@handle_errors
def keys_revoke(key_id: str, data_dir: Path) -> None:
    """Revoke the key with id KEY_ID (see `lamina keys list`)."""
    with connect(data_dir) as ops:
        revoked = ops.revoke_key(key_id=key_id)
    console.print(f"Revoked key {revoked['id']} ({revoked['prefix']}…).")


# -- users -----------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Create and list the users who can sign in to the web pages."""


@users.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@data_dir_option
@handle_errors
def users_create(email: str, password_stdin: bool, admin: bool, data_dir: Path) -> None:
    """Create a user who signs in with EMAIL and a password."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with connect(data_dir) as ops:
        user = ops.create_user(email=email, password=password, is_admin=admin)
    console.print(f"Created user {user['email']}.")


@users.command("list")
@json_option
@data_dir_option
@handle_errors
def users_list(as_json: bool, data_dir: Path) -> None:
    """List the users who can sign in (never their passwords)."""
    with connect(data_dir) as ops:
        found = ops.list_users()
    if as_json:
        _print_json(found)
    else:
        views.print_users(console, found)


# -- sessions and traces ------------------------------------------------------------------------


@main.group()
def sessions() -> None:
    """Look at sessions in the terminal."""


@sessions.command("list")
@click.option("--project", default=operations.DEFAULT_PROJECT, show_default=True)
@click.option("--limit", default=20, show_default=True)
@click.option("--user", "user_id", default=None, help="Only sessions of this user id.")
@click.option(
    "--search", "q", default=None, help="Only sessions whose inputs or outputs contain this."
)
@click.option("--sort", default="start_time", show_default=True)
@json_option
@data_dir_option
@handle_errors
def sessions_list(
    project: str,
    limit: int,
    user_id: str | None,
    q: str | None,
    sort: str,
    as_json: bool,
    data_dir: Path,
) -> None:
    """List the newest sessions."""
    params = {"limit": str(limit), "sort": sort}
    if user_id:
        params["user_id"] = user_id
    if q:
        params["q"] = q
    with connect(data_dir) as ops:
        page = ops.list_sessions(project=project, params=params)
    if as_json:
        _print_json(page)
    else:
        views.print_sessions(console, page["items"])


@sessions.command("show")
@click.argument("session_id")
@click.option("--project", default=operations.DEFAULT_PROJECT, show_default=True)
@json_option
@data_dir_option
@handle_errors
def sessions_show(session_id: str, project: str, as_json: bool, data_dir: Path) -> None:
    """Show one session and its traces."""
    with connect(data_dir) as ops:
        session = ops.get_session(project=project, session_id=session_id)
    if as_json:
        _print_json(session)
    else:
        views.print_session(console, session)


@main.group()
def traces() -> None:
    """Look at traces in the terminal."""


@sessions.command("delete")
@click.argument("session_id")
@click.option("--project", default=operations.DEFAULT_PROJECT, show_default=True)
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


@traces.command("show")
@click.argument("trace_id")
@click.option("--project", default=operations.DEFAULT_PROJECT, show_default=True)
@json_option
@data_dir_option
@handle_errors
def traces_show(trace_id: str, project: str, as_json: bool, data_dir: Path) -> None:
    """Show one trace as a span tree."""
    with connect(data_dir) as ops:
        trace = ops.get_trace(project=project, trace_id=trace_id)
    if as_json:
        _print_json(trace)
    else:
        views.print_trace(console, trace)


@traces.command("delete")
@click.argument("trace_id")
@click.option("--project", default=operations.DEFAULT_PROJECT, show_default=True)
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


# -- export and import ---------------------------------------------------------------------------


def _progress() -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )


@main.command("export", short_help="Export sessions, traces and spans (JSONL, Parquet).")
@click.option("--project", default=operations.DEFAULT_PROJECT, show_default=True)
@click.option("--session", "session_id", default=None, help="Only this session.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["jsonl", "parquet"]),
    default="jsonl",
    show_default=True,
    help="jsonl: one file of lines; parquet: a directory of three files.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="File (jsonl; - for standard output) or directory (parquet). "
    "Default: PROJECT.jsonl or PROJECT-parquet/.",
)
@data_dir_option
@handle_errors
def export_command(
    project: str,
    session_id: str | None,
    file_format: str,
    output: Path | None,
    data_dir: Path,
) -> None:
    """Export a project's (or one session's) sessions, traces and spans."""
    from lamina import export

    name = project if session_id is None else f"{project}-{session_id}"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    target = output or Path(f"{safe}.jsonl" if file_format == "jsonl" else f"{safe}-parquet")
    counts = dict.fromkeys(export.KINDS, 0)
    with connect(data_dir) as ops, _progress() as progress:
        tasks = {kind: progress.add_task(kind, total=None) for kind in export.KINDS}

        def fetch(kind: str, after: str | None) -> Any:
            page = ops.export_page(
                project=project, kind=kind, after=after, limit=2000, session_id=session_id
            )
            if "total" in page:
                progress.update(tasks[kind], total=page["total"])
            counts[kind] += len(page["items"])
            progress.update(tasks[kind], completed=counts[kind])
            if page["next_cursor"] is None:
                progress.update(tasks[kind], total=counts[kind])
            return page

        rows = export.pages(fetch)
        if file_format == "parquet":
            export.write_parquet(target, rows)
        elif str(target) == "-":
            for chunk in export.jsonl_lines(export.header(project, session_id), rows):
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        else:
            export.write_file(target, export.jsonl_lines(export.header(project, session_id), rows))
    where = "standard output" if str(target) == "-" else str(target)
    err_console.print(
        f"Exported {counts['sessions']} sessions, {counts['traces']} traces and "
        f"{counts['spans']} spans to {where}.",
        highlight=False,
    )


@main.command("import", short_help="Import an export's spans into a project.")
@click.argument("file", type=click.Path(path_type=Path, exists=True))
@click.option("--project", required=True, help="The project to import into (made if new).")
@click.option(
    "--partial",
    is_flag=True,
    help="Import the spans of a JSONL file that lacks the trailer line a complete export "
    "ends with (an export cut short); without it such a file is refused.",
)
@data_dir_option
@handle_errors
def import_command(file: Path, project: str, partial: bool, data_dir: Path) -> None:
    """Import the spans of an export (a JSONL file, a Parquet directory, or the session
    page's Parquet zip) into a project; its traces and sessions are rebuilt from them."""
    from lamina import export

    spans = 0
    chunks = export.read_spans(file, partial=partial)  # a file it refuses makes no project
    with connect(data_dir) as ops:
        if project not in {p["name"] for p in ops.list_projects()}:
            ops.create_project(name=project)
            err_console.print(f'Created project "{project}".', highlight=False)
        with _progress() as progress:
            task = progress.add_task("spans", total=None)
            for chunk in chunks:
                result = ops.import_spans(project=project, spans=chunk)
                spans += result["spans"]
                progress.update(task, completed=spans)
            progress.update(task, total=spans)
    console.print(f'Imported {spans} spans into project "{project}".')


# -- writes set aside -----------------------------------------------------------------------


@main.group(short_help="List, retry or drop writes the store could not hold.")
def quarantine() -> None:
    """Writes the store set aside because one of them did not fit in its memory (spans of
    many megabytes, a small --store-memory-mb), so that newer writes could be stored.
    They are kept in the data directory's quarantine folder until retried or dropped."""


@quarantine.command("list")
@json_option
@data_dir_option
@handle_errors
def quarantine_list(as_json: bool, data_dir: Path) -> None:
    """List the writes set aside, with their ids."""
    with connect(data_dir) as ops:
        found = ops.list_quarantined()
    if as_json:
        _print_json(found)
        return
    if not found:
        console.print("No writes are set aside.")
        return
    for entry in found:
        console.print(
            f"{entry['id']}  {entry['spans']} spans, {entry['bytes'] / 1e6:.1f} MB, project "
            f"{', '.join(entry['projects'])}: {entry['reason']}",
            highlight=False,
            soft_wrap=True,
        )


@quarantine.command("retry")
@click.argument("entry_id")
@data_dir_option
@handle_errors
def quarantine_retry(entry_id: str, data_dir: Path) -> None:
    """Store the write ENTRY_ID again (after giving the server more --store-memory-mb)."""
    with connect(data_dir) as ops:
        entry = ops.retry_quarantined(entry_id=entry_id)
    console.print(
        f"Sent the {entry['spans']} spans of {entry_id} to the store again; "
        "`lamina quarantine list` shows it again if they still do not fit.",
        highlight=False,
    )


@quarantine.command("drop")
@click.argument("entry_id")
@yes_option
@data_dir_option
@handle_errors
def quarantine_drop(entry_id: str, yes: bool, data_dir: Path) -> None:
    """Delete the write ENTRY_ID and its spans."""
    if not yes:
        click.confirm(
            f"Delete the spans set aside as {entry_id}? This cannot be undone", abort=True
        )
    with connect(data_dir) as ops:
        entry = ops.drop_quarantined(entry_id=entry_id)
    console.print(f"Deleted the {entry['spans']} spans set aside as {entry_id}.", highlight=False)


if __name__ == "__main__":
    main()
