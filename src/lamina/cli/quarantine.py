"""`lamina quarantine`: writes the store set aside, to retry or drop."""

from __future__ import annotations

from pathlib import Path

import click

from lamina.cli.common import (
    connect,
    console,
    data_dir_option,
    handle_errors,
    json_option,
    print_json,
    yes_option,
)


@click.group(short_help="List, retry or drop writes the store could not hold.")
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
        print_json(found)
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
