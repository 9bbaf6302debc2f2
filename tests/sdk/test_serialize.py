"""Inputs and outputs to JSON: any object, never an exception, within the limit."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import pydantic
import pytest

from lamina.sdk.serialize import to_json

LIMIT = 10_000


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class User(pydantic.BaseModel):
    name: str
    born: datetime.date


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", "plain text"),
        ("ünïcode ✓", "ünïcode ✓"),
        (42, 42),
        (True, True),
        (None, None),
        (1.5, 1.5),
        ({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}),
        ((1, 2), [1, 2]),
        (Point(1, 2), {"x": 1, "y": 2}),
        (User(name="Ada", born=datetime.date(1815, 12, 10)), {"name": "Ada", "born": "1815-12-10"}),
        (b"bytes", "bytes"),
        ({3, 1, 2}, [1, 2, 3]),
        (frozenset({"b", "a"}), ["a", "b"]),
        (datetime.datetime(2025, 1, 2, 3, 4, 5), "2025-01-02T03:04:05"),
        (Colour.RED, "red"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (Decimal("1.10"), "1.10"),
        (PurePosixPath("/tmp/x"), "/tmp/x"),
        ({1: "int key", (2, 3): "tuple key"}, {"1": "int key", "(2, 3)": "tuple key"}),
    ],
)
def test_values_become_the_json_one_would_expect(value: Any, expected: Any) -> None:
    assert json.loads(to_json(value, LIMIT)) == expected


def test_objects_without_a_json_form_use_their_repr() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<Thing 7>"

    assert json.loads(to_json({"t": Thing()}, LIMIT)) == {"t": "<Thing 7>"}
    assert "repr failed: RuntimeError" in json.loads(to_json(BadRepr(), LIMIT))


def test_reference_cycles_do_not_break_serialisation() -> None:
    cycle: list[Any] = [1]
    cycle.append(cycle)
    tree: dict[str, Any] = {"name": "root"}
    tree["self"] = tree
    assert json.loads(to_json(cycle, LIMIT)) == [1, "<lamina: reference cycle>"]
    assert json.loads(to_json(tree, LIMIT)) == {"name": "root", "self": "<lamina: reference cycle>"}


def test_long_values_are_cut_into_a_json_string_with_a_marker() -> None:
    text = to_json("a" * 500, 100)
    assert (
        json.loads(text)
        == "a" * 100 + "... [truncated by lamina: 500 characters in all, limit 100]"
    )
    structured = json.loads(to_json(list(range(1000)), 50))
    assert isinstance(structured, str) and structured.startswith("[0,1,2,3")
    assert structured.endswith("characters in all, limit 50]")
    assert to_json("short", 100) == '"short"'
