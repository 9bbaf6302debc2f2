"""What every command shares: the consoles, the options, errors, and :func:`connect`.

Administrative commands work whether or not a server is running on the same
data dir: when one is, they go through its JSON API (:mod:`lamina.cli.client`),
otherwise they open the data dir themselves (:mod:`lamina.operations`).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from lamina import operations
from lamina.errors import LaminaError
from lamina.query import present
from lamina.settings import Settings

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False)
    sys.exit(code)


def handle_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LaminaError as exc:
            fail(exc.message, 2 if exc.code == "config_error" else 1)

    return wrapper  # type: ignore[return-value]


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="LAMINA_DATA_DIR",
    default=Path(".lamina"),
    show_default=True,
    help="Data directory of the Lamina server (env LAMINA_DATA_DIR).",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (the API's fields), for scripts."
)
yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
project_option = click.option("--project", default=operations.DEFAULT_PROJECT, show_default=True)


def print_json(value: Any) -> None:
    """What the JSON API would answer (times as its ISO text), indented."""
    click.echo(present.json_bytes(value, indent=True).decode())


def show(as_json: bool, value: Any, view: Callable[[Console, Any], None]) -> None:
    """``value`` as JSON (``--json``), or through its terminal view."""
    if as_json:
        print_json(value)
    else:
        view(console, value)


@contextmanager
def connect(data_dir: Path) -> Iterator[Any]:
    """The operations for this data dir: through the running server, or directly."""
    running = operations.running_server(data_dir)
    if running is not None:
        from lamina.cli.client import ApiClient

        client = ApiClient(running["url"], operations.admin_token(data_dir))
        try:
            yield client
        finally:
            client.close()
        return
    from lamina import datadir
    from lamina.ingest.batcher import IngestBatcher
    from lamina.serve.stores import open_store

    datadir.make_private(data_dir)
    settings = Settings.load({"data_dir": data_dir})  # --store from LAMINA_STORE
    store = open_store(settings)
    batcher = IngestBatcher(store, settings.max_queue_spans, settings.max_batch_spans)
    batcher.start()  # imports go through it, as at a server
    try:
        project, first_key = operations.ensure_default_project(store)
        if first_key is not None:  # a new data dir: this is the only time the key is shown
            click.echo(f'Project "{project.name}" API key: {first_key}   (shown once)', err=True)
        yield operations.Operations(store, batcher=batcher)
    finally:
        batcher.stop()
        store.close()


def progress_bars() -> Any:
    """A progress display on standard error (standard output may be the export)."""
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
