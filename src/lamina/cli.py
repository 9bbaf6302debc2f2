"""The ``lamina`` command.

Administrative commands work whether or not a server is running on the same
data dir: when one is, they go through it (see :mod:`lamina.operations`).
"""

from __future__ import annotations

import functools
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
    from lamina.store.duckdb import DuckDBStore

    store = DuckDBStore(data_dir)
    try:
        operations.ensure_default_project(store)
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
    from lamina.server import serve as run

    settings = Settings.load(flags)
    run(settings, after_start=demo.load_on_start if settings.demo else None)


# -- demo -----------------------------------------------------------------------------


@main.command("demo")
@data_dir_option
@click.option("--url", help="Send to this server instead of the one running on --data-dir.")
@click.option("--key", envvar="LAMINA_PROJECT_API_KEY", help="Project API key for --url.")
@handle_errors
def demo_command(data_dir: Path, url: str | None, key: str | None) -> None:
    """Send a realistic set of demo sessions to a server, through OTLP."""
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


# -- projects ---------------------------------------------------------------------------


@main.group()
def projects() -> None:
    """Create and list projects."""


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
@data_dir_option
@handle_errors
def projects_list(data_dir: Path) -> None:
    """List projects."""
    with connect(data_dir) as ops:
        console.print(views.projects_table(ops.list_projects()))


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
@data_dir_option
@handle_errors
def keys_list(project: str | None, data_dir: Path) -> None:
    """List API keys (their ids and first characters, never the secret)."""
    with connect(data_dir) as ops:
        console.print(views.keys_table(ops.list_keys(project=project)))


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
    """Create users who can sign in to the web pages."""


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
@data_dir_option
@handle_errors
def sessions_list(
    project: str, limit: int, user_id: str | None, q: str | None, sort: str, data_dir: Path
) -> None:
    """List the newest sessions."""
    params = {"limit": str(limit), "sort": sort}
    if user_id:
        params["user_id"] = user_id
    if q:
        params["q"] = q
    with connect(data_dir) as ops:
        page = ops.list_sessions(project=project, params=params)
    console.print(views.sessions_table(page["items"], console.width))


@sessions.command("show")
@click.argument("session_id")
@click.option("--project", default=operations.DEFAULT_PROJECT, show_default=True)
@data_dir_option
@handle_errors
def sessions_show(session_id: str, project: str, data_dir: Path) -> None:
    """Show one session and its traces."""
    with connect(data_dir) as ops:
        session = ops.get_session(project=project, session_id=session_id)
    views.print_session(console, session)


@main.group()
def traces() -> None:
    """Look at traces in the terminal."""


@traces.command("show")
@click.argument("trace_id")
@click.option("--project", default=operations.DEFAULT_PROJECT, show_default=True)
@data_dir_option
@handle_errors
def traces_show(trace_id: str, project: str, data_dir: Path) -> None:
    """Show one trace as a span tree."""
    with connect(data_dir) as ops:
        trace = ops.get_trace(project=project, trace_id=trace_id)
    views.print_trace(console, trace)


if __name__ == "__main__":
    main()
