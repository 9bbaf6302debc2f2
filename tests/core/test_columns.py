"""Column batches travel from the decode workers to the server pickled."""

from __future__ import annotations

import pickle

from bench.workload import batches

from lamina.ingest.decoder import PROTOBUF, decode_body
from lamina.ingest.decoder import _start_worker_in_process as start_worker_in_process
from lamina.spans.batch import SPAN_SCHEMA, ColumnBatch, to_columns
from lamina.spans.record import SpanRecord


def test_a_batch_crosses_to_the_server_whole() -> None:
    start_worker_in_process(None)
    for batch in batches(2_000):
        columns = decode_body(batch.body, PROTOBUF, "prj", encoding="gzip").columns
        assert columns is not None and columns.digest is not None
        back = pickle.loads(pickle.dumps(columns))
        assert isinstance(back, ColumnBatch) and back.digest == columns.digest
        assert back.spans.equals(columns.spans, check_metadata=True)
        assert back.traces.equals(columns.traces, check_metadata=True)


def test_nulls_and_an_empty_batch_cross_whole() -> None:
    bare = SpanRecord("prj", "ab" * 16, "cd" * 8, None, "s", "DEFAULT", 1, 2, "unset")
    for columns in (to_columns([bare]), to_columns([])):
        back = pickle.loads(pickle.dumps(columns))
        assert back.spans.schema == SPAN_SCHEMA and back.digest is None
        assert back.spans.to_pylist() == columns.spans.to_pylist()
        assert back.traces.to_pylist() == columns.traces.to_pylist()
