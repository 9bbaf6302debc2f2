"""Types of the C module _wire.c (see lamina/otlp/wire.py)."""

from collections.abc import Callable
from typing import Any

#: The names of the columns decode() fills, in order (lamina.spans.batch.SPAN_FIELDS).
COLUMNS: tuple[str, ...]

def configure(
    roles: dict[str, tuple[Any, ...]],
    role: Callable[[str], tuple[Any, ...]],
    field_index: dict[str, int],
    scan: Callable[[dict[str, Any]], Any],
    normalise: Callable[[Any, Any], Any],
    dumps: Callable[..., bytes],
    dumps_kwargs: dict[str, Any],
) -> None: ...
def decode(
    body: bytes, project_id: str, price: Callable[..., float | None]
) -> tuple[list[list[Any]], list[str]] | None: ...
def count_spans(body: bytes) -> int: ...
