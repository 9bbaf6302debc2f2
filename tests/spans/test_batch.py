"""Column batches travel from the decode workers to the server pickled."""

from __future__ import annotations

import pickle

import pytest
from bench.workload import batches

from lamina.otlp.body import PROTOBUF, decode_body
from lamina.pricing import PriceTable
from lamina.spans.batch import SPAN_SCHEMA, ColumnBatch, from_columns, from_rows
from tests.support import otlp

PRICES = PriceTable.load(None)


def test_a_batch_crosses_to_the_server_whole() -> None:
    for batch in batches(2_000):
        columns = decode_body(batch.body, PROTOBUF, "prj", PRICES.cost, encoding="gzip")
        assert columns.count and columns.digest is not None
        back = pickle.loads(pickle.dumps(columns))
        assert isinstance(back, ColumnBatch) and back.digest == columns.digest
        assert back.spans.equals(columns.spans, check_metadata=True)
        assert back.traces.equals(columns.traces, check_metadata=True)


def test_nulls_and_an_empty_batch_cross_whole() -> None:
    bare = {"project_id": "prj", "trace_id": "ab" * 16, "span_id": "cd" * 8, "name": "s"}
    for columns in (from_rows([{**bare, "start_ns": 1, "end_ns": 2}]), from_rows([])):
        back = pickle.loads(pickle.dumps(columns))
        assert back.spans.schema == SPAN_SCHEMA and back.digest is None
        assert back.spans.to_pylist() == columns.spans.to_pylist()
        assert back.traces.to_pylist() == columns.traces.to_pylist()


def test_the_spans_a_request_had_rejected_cross_with_its_batch() -> None:
    """The sender's answer (OTLP's partial success) is written in the server from the
    batch the worker sent back."""
    good = otlp.span(otlp.new_trace_id(), "good")
    bad = otlp.span(bytes(16), "bad")
    body = otlp.export([good, bad, bad]).SerializeToString()
    batch = pickle.loads(pickle.dumps(decode_body(body, PROTOBUF, "prj", PRICES.cost)))
    assert (batch.count, batch.rejected) == (1, 2)
    assert batch.rejection == "2 span(s) rejected: trace_id must be 16 bytes (32 hex digits) " + (
        "and not all zero"
    )


def test_a_span_row_names_only_span_fields() -> None:
    row = {"project_id": "p", "trace_id": "ab" * 16, "span_id": "cd" * 8, "name": "s"}
    row |= {"start_ns": 1, "end_ns": 2}
    assert from_rows([row]).spans.to_pylist()[0]["span_type"] == "DEFAULT"
    with pytest.raises(ValueError, match="sesion_id"):  # not dropped without a word
        from_rows([{**row, "sesion_id": "typo"}])
    assert from_columns({name: [] for name in SPAN_SCHEMA.names[1:]}).count == 0
