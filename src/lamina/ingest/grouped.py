"""What the two writer threads (spans: lamina.ingest.batcher; scores:
lamina.ingest.score_queue) share: a group of waiting requests written at once, each
apart when that fails, and each request's future answered with its outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)


def write_group(items: Sequence[T], write: Callable[[Sequence[T]], E | None]) -> list[E | None]:
    """Each item's error (None: written): all in one write (one transaction, one sync),
    or, when that fails and there are several, each in a write of its own, so only the
    item whose own write fails is refused (the stores' writes are idempotent: what the
    failed group did store is not stored twice)."""
    error = write(items)
    if error is None or len(items) == 1:
        return [error] * len(items)
    return [write([item]) for item in items]


def resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    """On the future's loop: its request's answer (a request cancelled meanwhile has
    its future done already)."""
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


__all__ = ["resolve", "write_group"]
