"""The DuckDB store's reads: each sees every acknowledged span and score (or, on the
evaluator runner's threads, what is stored: :func:`reading_stored`), and the store out
of memory is a 503, not a server error."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import duckdb

from lamina.errors import StoreUnavailable
from lamina.store.duckdb.connection import first_line

F = TypeVar("F", bound=Callable[..., Any])


def settled(read: F) -> F:
    """A read that sees every committed span (see ``Storer.reading``); running out of
    the store's memory, or a database DuckDB stopped using, is StoreUnavailable (503),
    not a server error."""

    @functools.wraps(read)
    def settled_read(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if getattr(_background, "reading", False):  # what is stored is enough
                return read(self, *args, **kwargs)
            self._scores.settle()  # every score acknowledged before the read
            with self._storer.reading():
                return read(self, *args, **kwargs)
        except duckdb.Error as exc:
            if not isinstance(exc, duckdb.OutOfMemoryException):
                self._connection.refused(exc)
                raise
            # Passing: other work holds the store's memory. A retry, not a server error.
            raise StoreUnavailable(
                f"The store ran out of memory answering this ({first_line(exc)}). Try again "
                "in a moment or narrow the query; the server's --store-memory-mb sets the "
                "store's memory.",
                retry_after=5,
            ) from None

    return cast(F, settled_read)


@contextlib.contextmanager
def reading_stored() -> Iterator[None]:
    """This thread's reads, inside, see what is stored and store nothing journaled
    first: the evaluator runner's many reads would otherwise make the storer commit
    many small transactions while spans arrive (it judges the version it reads; a
    later one is judged again)."""
    _background.reading = True
    try:
        yield
    finally:
        _background.reading = False


# Set on a thread inside reading_stored (the evaluator runner's reads).
_background = threading.local()
