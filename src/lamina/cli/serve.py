"""`lamina serve`, and `lamina demo`, which sends demo sessions to a running server."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from lamina import operations
from lamina.cli.common import F, connect, console, data_dir_option, fail, handle_errors
from lamina.settings import Settings


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


@click.command()
@_settings_options
@handle_errors
def serve(**flags: Any) -> None:
    """Run the server: web pages, JSON API, OTLP/HTTP and OTLP/gRPC."""
    from lamina import demo
    from lamina.serve.server import serve as run

    settings = Settings.load(flags)
    run(settings, after_start=demo.load_on_start if settings.demo else None)


@click.command("demo")
@data_dir_option
@click.option("--url", help="Send to this server instead of the one running on --data-dir.")
@click.option("--key", envvar="LAMINA_PROJECT_API_KEY", help="Project API key for --url.")
@handle_errors
def demo_command(data_dir: Path, url: str | None, key: str | None) -> None:
    """Send realistic demo sessions to a server, through OTLP."""
    from lamina import demo

    admin = None
    if url is None:
        running = operations.running_server(data_dir)
        if running is None:
            fail(
                f"No Lamina server is running on {data_dir}. Start one with `lamina serve`, "
                "or pass --url and --key."
            )
            return
        url = str(running["url"])
        with connect(data_dir) as ops:
            created = ops.create_key(project=operations.DEFAULT_PROJECT, name="demo")
            key = created["key"]
        admin = (operations.admin_token(data_dir), operations.DEFAULT_PROJECT)
    if not key:
        fail("Pass --key (or set LAMINA_PROJECT_API_KEY) with --url.")
        return
    count = demo.send(url, key, progress=True, admin=admin)
    console.print(f"Sent {count} demo spans to {url}.")
