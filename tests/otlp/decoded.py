"""The spans of a decoded batch read back one by one, for tests that look at single values."""

from __future__ import annotations

from types import SimpleNamespace

import orjson

from lamina.spans.batch import ColumnBatch


def spans_of(batch: ColumnBatch) -> list[SimpleNamespace]:
    """Each span of the batch with its fields (SPAN_SCHEMA's names) as attributes, as the
    decoders gave them: ``tags`` a tuple, ``metadata`` a dict."""
    return [
        SimpleNamespace(
            **{**row, "tags": tuple(row["tags"]), "metadata": orjson.loads(row["metadata"])}
        )
        for row in batch.spans.to_pylist()
    ]
