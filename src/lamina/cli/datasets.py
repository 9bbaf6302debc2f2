"""`lamina datasets`: list, show, export, import and delete a project's datasets (#22;
see lamina.evaluation.datasets). An export is JSONL, one item a line; an import takes
those lines back (or any lines of ``{"input", "expected_output"?, "metadata"?,
"item_id"?}``), making the dataset when the project has none of that name."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import click
import orjson

from lamina.cli.common import (
    connect,
    console,
    data_dir_option,
    handle_errors,
    json_option,
    print_json,
    project_option,
)
from lamina.cli.views import Cell, Column, print_table
from lamina.errors import BadRequest
from lamina.query.present import json_bytes

# Items sent a request by an import: well within a request's limits (10,000 items, 32 MiB).
IMPORT_CHUNK = 1000


@click.group(short_help="List, show, export, import and delete datasets.")
def datasets() -> None:
    """List, show, export, import and delete datasets (test cases for experiments)."""


@datasets.command("list")
@project_option
@json_option
@data_dir_option
@handle_errors
def datasets_list(project: str, as_json: bool, data_dir: Path) -> None:
    """List the project's datasets."""
    with connect(data_dir) as ops:
        found = ops.list_datasets(project=project)
    if as_json:
        print_json(found)
        return
    rows: list[list[Cell]] = [
        [
            item["name"],
            f"{item['item_count']:,}",
            _when(item["created_at"]),
            item["description"] or "",
        ]
        for item in found["items"]
    ]
    columns = [
        Column("Name"),
        Column("Items", right=True),
        Column("Created", drop=2),
        Column("Description", preview=True),
    ]
    caption = None if rows else "No datasets. Add items from a trace or session page."
    print_table(console, columns, rows, title="Datasets", caption=caption)


@datasets.command("show")
@click.argument("name")
@project_option
@click.option("--limit", default=50, show_default=True, help="How many items.")
@json_option
@data_dir_option
@handle_errors
def datasets_show(name: str, project: str, limit: int, as_json: bool, data_dir: Path) -> None:
    """Show the first items of the dataset NAME."""
    with connect(data_dir) as ops:
        page = ops.list_dataset_items(project=project, name=name, params={"limit": str(limit)})
    if as_json:
        print_json(page)
        return
    rows: list[list[Cell]] = []
    for item in page["items"]:
        source = item["source"] or {}
        where = source.get("session_id") or source.get("trace_id") or ""
        if source.get("turn"):
            where += f" turn {source['turn']}"
        rows.append([item["item_id"], _text(item["input"]), _text(item["expected_output"]), where])
    columns = [
        Column("Id", drop=3),
        Column("Input", preview=True),
        Column("Expected", preview=True),
        Column("Source", cut=32, drop=2),
    ]
    more = " (more: lamina datasets export)" if page["next_cursor"] else ""
    caption = f"{len(rows)} items{more}" if rows else "No items."
    print_table(console, columns, rows, title=name, caption=caption)


@datasets.command("export")
@click.argument("name")
@project_option
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The file to write (default: standard output).",
)
@data_dir_option
@handle_errors
def datasets_export(name: str, project: str, output: Path | None, data_dir: Path) -> None:
    """Write every item of the dataset NAME as JSONL, one item a line."""
    count = 0
    with connect(data_dir) as ops, _open(output) as out:
        cursor: str | None = None
        while True:
            params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
            page = ops.list_dataset_items(project=project, name=name, params=params)
            for item in page["items"]:
                out.write(json_bytes(item) + b"\n")
            count += len(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    if output is not None:
        console.print(f"Wrote {count:,} items of {name} to {output}.")


@datasets.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@project_option
@click.option("--description", default=None, help="The description of a dataset made anew.")
@data_dir_option
@handle_errors
def datasets_import(
    name: str, file: Path, project: str, description: str | None, data_dir: Path
) -> None:
    """Add the items of FILE (JSONL, one item a line) to the dataset NAME, making it
    when the project has none of that name. An item whose item_id the dataset has is
    replaced, so importing a file twice adds its items once."""
    items = _read_lines(file)
    added = 0
    with connect(data_dir) as ops:
        given: dict[str, Any] = {"name": name}
        if description is not None:
            given["description"] = description
        ops.create_dataset(project=project, item=given)
        for start in range(0, len(items), IMPORT_CHUNK):
            chunk = items[start : start + IMPORT_CHUNK]
            added += ops.add_dataset_items(project=project, name=name, items=chunk)["added"]
    console.print(f"Imported {added:,} items into {name}.")


@datasets.command("delete")
@click.argument("name")
@project_option
@click.option("--item", "item_id", default=None, help="Delete only this item.")
@data_dir_option
@handle_errors
def datasets_delete(name: str, project: str, item_id: str | None, data_dir: Path) -> None:
    """Delete the dataset NAME and its items (or, with --item, one item)."""
    with connect(data_dir) as ops:
        if item_id is not None:
            ops.delete_dataset_item(project=project, name=name, item_id=item_id)
            console.print(f"Deleted item {item_id} of {name}.")
            return
        deleted = ops.delete_dataset(project=project, name=name)["deleted"]
    console.print(f"Deleted the dataset {name} and its {deleted['item_count']:,} items.")


def _read_lines(file: Path) -> list[Any]:
    items = []
    with file.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"{file}, line {number}, is not JSON: {exc}") from None
    return items


@contextmanager
def _open(path: Path | None) -> Iterator[BinaryIO]:
    """The output file, or standard output's bytes."""
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with path.open("wb") as file:
        yield file


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value or "")


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()
