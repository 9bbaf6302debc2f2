"""Spans built one at a time in tests (SpanRecord), written through the store's one
write entry, ``Store.write_columns``, as the ingest batcher writes them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from lamina.spans.batch import ColumnBatch, from_rows
from lamina.store.base import Store
from tests.spans.record import SpanRecord


def column_batch(records: Iterable[SpanRecord], digest: str | None = None) -> ColumnBatch:
    """The records as one batch (from request ``digest``, if given)."""
    return from_rows([asdict(record) for record in records], digest)


def write(store: Store, records: Iterable[SpanRecord]) -> None:
    """Write the records as one batch, as one request's spans are written."""
    store.write_columns([column_batch(records)])
