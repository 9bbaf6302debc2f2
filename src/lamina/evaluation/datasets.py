"""Datasets as the JSON API and the pages take and show them (#22; the store's side is
lamina.store.datasets).

A dataset's name is part of addresses: 1 to 100 letters, digits, ``.``, ``_`` or
``-``, starting with a letter or digit. An item is given as ``input`` (any JSON value
but null), ``expected_output`` (any, null for none) and ``metadata`` (an object, or
null), or made from the data (lamina.evaluation.items): ``{"from_trace": id}``,
``{"from_session": id}`` or ``{"from_session": id, "up_to_turn": N}``. Each is checked
here, and a 400 names the field (and the line of an import) that is wrong.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from lamina.errors import BadRequest, NotFound, PayloadTooLarge
from lamina.evaluation import items as from_data
from lamina.query.present import moment
from lamina.store.base import Row, Store
from lamina.store.datasets import Dataset, DatasetItem

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
NAME_RULE = (
    "1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit "
    "(it is part of the dataset's address)"
)
ITEM_ID = NAME  # a client's own item ids follow the same rule
MAX_DESCRIPTION_CHARS = 1_000
MAX_ITEM_BYTES = 1024 * 1024  # input, expected output and metadata, as JSON
MAX_BATCH = 10_000  # items in one request
MAX_ITEMS = 100_000  # in one dataset
MAX_DATASETS = 1_000  # in one project
_PLAIN = ("item_id", "input", "expected_output", "metadata")
# what an export's line holds beside them: its source is kept, its times made anew
_EXPORTED = ("source", "created_at", "updated_at")
_FROM = ("from_trace", "from_session", "up_to_turn", "item_id", "metadata")


def check_name(name: Any, field: str = "name") -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        shown = orjson.dumps(name).decode()[:80] if name is not None else "nothing"
        raise BadRequest(f"{field} must be {NAME_RULE}; got {shown}.")
    return name


def new_dataset(given: Mapping[str, Any], now_ns: int) -> Dataset:
    name = check_name(given.get("name"))
    description = given.get("description")
    if description is not None and not isinstance(description, str):
        raise BadRequest("description must be text or null.")
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        raise BadRequest(
            f"description holds at most {MAX_DESCRIPTION_CHARS:,} characters; this one has "
            f"{len(description):,}."
        )
    return Dataset(name, description.strip() or None if description else None, now_ns)


def present_dataset(dataset: Dataset) -> Row:
    return {
        "name": dataset.name,
        "description": dataset.description,
        "item_count": dataset.item_count,
        "created_at": moment(dataset.created_ns),
    }


def source_link(item: DatasetItem, project_name: str) -> str | None:
    """The page an item was made from: its turn on its session's page, its session, or
    its trace."""
    base = f"/p/{quote(project_name, safe='')}"
    session, trace = item.source_session_id, item.source_trace_id
    if session is not None and (trace is None or item.source_turn is not None):
        link = f"{base}/sessions/{quote(session, safe='')}"
        return f"{link}#turn-{trace}" if trace is not None else link
    return f"{base}/traces/{trace}" if trace is not None else None


def present_item(item: DatasetItem, project_name: str) -> Row:
    source = None
    if item.source_session_id is not None or item.source_trace_id is not None:
        source = {
            "session_id": item.source_session_id,
            "trace_id": item.source_trace_id,
            "turn": item.source_turn,
            "url": source_link(item, project_name),
        }
    return {
        "item_id": item.item_id,
        "input": orjson.loads(item.input),
        "expected_output": _loads(item.expected_output),
        "metadata": _loads(item.metadata),
        "source": source,
        "created_at": moment(item.created_ns),
        "updated_at": moment(item.updated_ns),
    }


def _loads(text: str | None) -> Any:
    return orjson.loads(text) if text is not None else None


def _where(line: int | None) -> str:
    return f"Item {line}: " if line is not None else ""


def _json(value: Any, field: str, line: int | None) -> str:
    text = orjson.dumps(value).decode()
    if len(text) > MAX_ITEM_BYTES:
        raise PayloadTooLarge(
            f"{_where(line)}{field} is {len(text):,} bytes of JSON; an item holds at most "
            f"{MAX_ITEM_BYTES // 1024:,} KiB."
        )
    return text


def _item_id(given: Mapping[str, Any], line: int | None) -> str:
    item_id = given.get("item_id")
    if item_id is None:
        return uuid.uuid4().hex
    if not isinstance(item_id, str) or not ITEM_ID.fullmatch(item_id):
        raise BadRequest(f"{_where(line)}item_id must be {NAME_RULE.split(' (')[0]}.")
    return item_id


def _metadata(given: Mapping[str, Any], line: int | None) -> str | None:
    metadata = given.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest(f"{_where(line)}metadata must be a JSON object or null.")
    return _json(metadata, "metadata", line) if metadata is not None else None


def _unknown(given: Mapping[str, Any], known: Sequence[str], line: int | None) -> None:
    unknown = sorted(given.keys() - set(known))
    if unknown:
        raise BadRequest(
            f"{_where(line)}unknown field {unknown[0][:80]!r}: an item takes {', '.join(known)}."
        )


def plain_item(given: Any, now_ns: int, line: int | None = None) -> DatasetItem:
    """An item given whole (``input`` and the rest)."""
    if not isinstance(given, dict):
        raise BadRequest(f"{_where(line)}an item must be a JSON object.")
    _unknown(given, _PLAIN + _EXPORTED, line)
    if given.get("input") is None:
        raise BadRequest(f"{_where(line)}an item needs an input (any JSON value but null).")
    expected = given.get("expected_output")
    session_id, trace_id, turn = _source(given.get("source"), line)
    return DatasetItem(
        item_id=_item_id(given, line),
        input=_json(given["input"], "input", line),
        expected_output=_json(expected, "expected_output", line) if expected is not None else None,
        metadata=_metadata(given, line),
        source_session_id=session_id,
        source_trace_id=trace_id,
        source_turn=turn,
        created_ns=now_ns,
        updated_ns=now_ns,
    )


def _source(source: Any, line: int | None) -> tuple[str | None, str | None, int | None]:
    """An exported item's source (its ``url`` is made anew when it is shown)."""
    if source is None:
        return None, None, None
    rule = (
        f"{_where(line)}source must be null or {{session_id, trace_id, turn}} (ids of at "
        "most 1,000 characters, the turn a whole number from 1)."
    )
    if not isinstance(source, dict) or source.keys() - {"session_id", "trace_id", "turn", "url"}:
        raise BadRequest(rule)
    session_id, trace_id, turn = (source.get(k) for k in ("session_id", "trace_id", "turn"))
    for value in (session_id, trace_id):
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 1000):
            raise BadRequest(rule)
    if turn is not None and (not isinstance(turn, int) or isinstance(turn, bool) or turn < 1):
        raise BadRequest(rule)
    return session_id, trace_id, turn


def one_item(store: Store, project_id: str, given: Any, now_ns: int) -> DatasetItem:
    """An item given whole, or made from a trace or a session (``from_trace``,
    ``from_session`` with ``up_to_turn``)."""
    if not isinstance(given, dict) or not ("from_trace" in given or "from_session" in given):
        return plain_item(given, now_ns)
    _unknown(given, _FROM, None)
    if "from_trace" in given and "from_session" in given:
        raise BadRequest("Give from_trace or from_session, not both.")
    if "up_to_turn" in given and "from_session" not in given:
        raise BadRequest("up_to_turn counts the turns of a session: give from_session too.")
    if "from_trace" in given:
        made = from_data.from_trace(store, project_id, _id(given, "from_trace"))
    else:
        turn = given.get("up_to_turn")
        if turn is not None and (not isinstance(turn, int) or isinstance(turn, bool)):
            raise BadRequest("up_to_turn must be a whole number (turns count from 1).")
        made = from_data.from_session(store, project_id, _id(given, "from_session"), turn)
    return DatasetItem(
        item_id=_item_id(given, None),
        input=_json(made.input, "input", None),
        expected_output=(
            _json(made.expected_output, "expected_output", None)
            if made.expected_output is not None
            else None
        ),
        metadata=_metadata(given, None),
        source_session_id=made.session_id,
        source_trace_id=made.trace_id,
        source_turn=made.turn,
        created_ns=now_ns,
        updated_ns=now_ns,
    )


def _id(given: Mapping[str, Any], field: str) -> str:
    value = given.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > 1000:
        raise BadRequest(f"{field} must be an id: text of 1 to 1,000 characters.")
    return value.lower() if field == "from_trace" else value


def edited(found: DatasetItem, given: Mapping[str, Any], now_ns: int) -> DatasetItem:
    """The item with the fields ``given`` (input, expected_output, metadata) changed."""
    _unknown(given, _PLAIN[1:], None)
    if "input" in given and given["input"] is None:
        raise BadRequest("input cannot be null: an item needs an input.")
    changes: dict[str, Any] = {"updated_ns": now_ns}
    if "input" in given:
        changes["input"] = _json(given["input"], "input", None)
    if "expected_output" in given:
        expected = given["expected_output"]
        changes["expected_output"] = (
            _json(expected, "expected_output", None) if expected is not None else None
        )
    if "metadata" in given:
        changes["metadata"] = _metadata(given, None)
    return dataclasses.replace(found, **changes)


def parse_lines(body: bytes) -> list[Any]:
    """A JSONL body: one JSON value a line (blank lines skipped)."""
    values = []
    for number, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            values.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"Line {number} is not JSON: {exc}") from None
    return values


def plain_items(values: Sequence[Any], now_ns: int) -> list[DatasetItem]:
    """Many items given whole (an import): numbered from 1 in errors. Items of one
    request keep their order (each is 1 ns after the one before)."""
    if len(values) > MAX_BATCH:
        raise PayloadTooLarge(
            f"One request adds at most {MAX_BATCH:,} items; this one has {len(values):,}. "
            "Send them in several."
        )
    made = [plain_item(value, now_ns + n, n + 1) for n, value in enumerate(values)]
    ids = [item.item_id for item in made]
    if len(set(ids)) != len(ids):
        twice = next(item_id for item_id in ids if ids.count(item_id) > 1)
        raise BadRequest(f'item_id "{twice}" is given twice in this request.')
    return made


def add_items(store: Store, project_id: str, name: str, items: Sequence[DatasetItem]) -> None:
    """Store the items in the dataset, within its limit of items."""
    dataset = store.get_dataset(project_id, name)
    if dataset is None:
        raise NotFound(no_dataset(name))
    if dataset.item_count + len(items) > MAX_ITEMS:
        raise PayloadTooLarge(
            f'The dataset "{name}" has {dataset.item_count:,} items; a dataset holds at most '
            f"{MAX_ITEMS:,}. Start another one."
        )
    if not store.put_dataset_items(project_id, name, items):
        raise NotFound(no_dataset(name))


def create(store: Store, project_id: str, given: Mapping[str, Any]) -> tuple[Dataset, bool]:
    """Make the dataset ``given`` names, or change its description when the project has
    it (kept when none is given); and whether it was made."""
    dataset = new_dataset(given, now())
    found = store.get_dataset(project_id, dataset.name)
    if found is None and len(store.list_datasets(project_id)) >= MAX_DATASETS:
        raise PayloadTooLarge(
            f"A project holds at most {MAX_DATASETS:,} datasets. Delete one first."
        )
    if found is not None and "description" not in given:
        return found, False
    return store.put_dataset(project_id, dataset), found is None


@dataclasses.dataclass(frozen=True, slots=True)
class Imported:
    """A dataset of an import's lines (its name and description) and a chunk of its items,
    checked (a dataset of many items comes in several chunks)."""

    given: Mapping[str, Any]
    items: list[DatasetItem]


def imported(
    groups: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]], now_ns: int
) -> list[Imported]:
    """The datasets and items of an import request's lines (lamina.exchange.datasets),
    all checked before any is stored: a 400 names the dataset and the item (numbered
    from 1 in the request) that is wrong. Items keep their order (1 ns apart)."""
    checked: list[Imported] = []
    ids: dict[str, set[str]] = {}
    total = 0
    for given, chunk in groups:
        try:
            name = new_dataset(given, now_ns).name
        except BadRequest as exc:
            raise BadRequest(f"A dataset line: {exc.message}") from None
        if total + len(chunk) > MAX_BATCH:
            raise PayloadTooLarge(
                f"One import request adds at most {MAX_BATCH:,} dataset items: send them "
                "in several (lamina import does)."
            )
        seen = ids.setdefault(name, set())
        made = []
        for value in chunk:
            where = f'Dataset "{name}", item {len(seen) + 1}: '
            try:
                item = plain_item(value, now_ns + total)
            except (BadRequest, PayloadTooLarge) as exc:
                raise type(exc)(where + exc.message) from None
            if item.item_id in seen:
                raise BadRequest(f'{where}item_id "{item.item_id}" is given twice.')
            seen.add(item.item_id)
            made.append(item)
            total += 1
        checked.append(Imported(given, made))
    return checked


def store_imported(store: Store, project_id: str, checked: Sequence[Imported]) -> tuple[int, int]:
    """Make the datasets (a new one made, an existing one's description set as the
    line gives it) and add their items, each replacing the one of its id: how many
    datasets and items."""
    names: set[str] = set()
    for one in checked:
        made, _ = create(store, project_id, one.given)
        names.add(made.name)
        if one.items:
            add_items(store, project_id, made.name, one.items)
    return len(names), sum(len(one.items) for one in checked)


def no_dataset(name: str) -> str:
    return f'No dataset "{name[:100]}" in this project.'


def now() -> int:
    return time.time_ns()
