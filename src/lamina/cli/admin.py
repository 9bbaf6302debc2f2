"""`lamina projects`, `lamina keys` and `lamina users`: who may send and who may read."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lamina.cli import views
from lamina.cli.common import (
    connect,
    console,
    data_dir_option,
    err_console,
    handle_errors,
    json_option,
    project_option,
    show,
    yes_option,
)

# -- projects ---------------------------------------------------------------------------


@click.group(short_help="Create, list and delete projects; set how long they keep traces.")
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
    show(as_json, found, views.print_projects)


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


@projects.command("idle-timeout", short_help="End a project's sessions after MINUTES idle.")
@click.argument("name")
@click.argument("minutes", type=click.IntRange(1, 7 * 24 * 60))
@data_dir_option
@handle_errors
def projects_idle_timeout(name: str, minutes: int, data_dir: Path) -> None:
    """A session of project NAME shows as ended once its last span ended MINUTES ago
    (1 to 10080, a week; 30 by default), or once it is ended (`lamina sessions end`)."""
    with connect(data_dir) as ops:
        result = ops.set_session_idle_minutes(project=name, minutes=minutes)
    console.print(
        f'Project "{result["name"]}": a session ends {minutes} minutes after its last span.'
    )


# -- keys ----------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """Create, list and revoke project API keys."""


@keys.command("create")
@project_option
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
    show(as_json, found, views.print_keys)


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


@click.group()
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
    show(as_json, found, views.print_users)
