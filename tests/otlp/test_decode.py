"""The attribute conventions table of ARCHITECTURE.md, every row, on the pure decode step.

Each test builds a real OTLP ExportTraceServiceRequest (protobuf classes, or the OTLP
JSON encoding) and runs it through `lamina.otlp.decode` exactly as both receivers do,
with the real built-in price table. Attribute names are the ones the Laminar SDK,
OpenInference, OpenLLMetry (Traceloop), Langfuse and the Vercel AI SDK really emit.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from lamina.errors import BadRequest
from lamina.otlp.decode import decode_request, parse_json, parse_protobuf
from lamina.pricing import PriceTable
from tests.otlp.decoded import spans_of
from tests.support import otlp

PRICES = PriceTable.load(None)
MS = 1_000_000


def decode(
    attributes: dict[str, Any], resource: dict[str, Any] | None = None, **span: Any
) -> SimpleNamespace:
    """One span with these attributes, decoded."""
    request = otlp.export(
        [otlp.span(otlp.new_trace_id(), span.pop("name", "span"), attributes=attributes, **span)],
        resource=resource if resource is not None else {},
    )
    batch = decode_request(request, "prj_test", PRICES.cost)
    assert batch.rejected == 0, batch.rejection
    (record,) = spans_of(batch)
    return record


def kept(record: SimpleNamespace) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(record.attributes)
    return value


# -- rows where one attribute fills one field: each name, and their order -------------------

SESSION_ID = [
    "session.id",  # OpenInference, Lamina SDK
    "lmnr.association.properties.session_id",  # Laminar SDK
    "gen_ai.conversation.id",  # OpenTelemetry GenAI semantic conventions
    "langfuse.session.id",  # Langfuse
    "traceloop.association.properties.session_id",  # OpenLLMetry
    "ai.telemetry.metadata.sessionId",  # Vercel AI SDK
    "ai.telemetry.metadata.session_id",  # Vercel AI SDK, snake_case metadata
]
USER_ID = [
    "user.id",
    "lmnr.association.properties.user_id",
    "enduser.id",
    "langfuse.user.id",
    "traceloop.association.properties.user_id",
    "ai.telemetry.metadata.userId",
]
MODEL = ["gen_ai.response.model", "gen_ai.request.model", "llm.model_name"]
PROVIDER = ["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"]
INPUT_TOKENS = [
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
]
OUTPUT_TOKENS = [
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
]
SPAN_TYPE = ["lamina.span.type", "lmnr.span.type", "openinference.span.kind"]
TAGS = ["tag.tags", "lmnr.association.properties.tags", "langfuse.trace.tags"]

TEXT_ROWS = {
    "session_id": SESSION_ID,
    "user_id": USER_ID,
    "model": MODEL,
    "provider": PROVIDER,
}
INT_ROWS = {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}


def _value(field: str, rank: int) -> Any:
    return 100 + rank if field in INT_ROWS else f"{field}-{rank}"


ROWS = {**TEXT_ROWS, **INT_ROWS}
EVERY_NAME = [
    (field, rank, name) for field, names in ROWS.items() for rank, name in enumerate(names)
]


@pytest.mark.parametrize(("field", "rank", "name"), EVERY_NAME, ids=[n for _, _, n in EVERY_NAME])
def test_each_attribute_alone_fills_its_field(field: str, rank: int, name: str) -> None:
    record = decode({name: _value(field, rank)})
    assert getattr(record, field) == _value(field, rank)


@pytest.mark.parametrize("field", list(ROWS))
def test_the_first_attribute_present_wins_whatever_their_order(field: str) -> None:
    names = ROWS[field]
    for first in range(len(names)):
        present = names[first:]
        # sent in reverse table order, so the winner is never simply the first sent
        attributes = {name: _value(field, names.index(name)) for name in reversed(present)}
        assert getattr(decode(attributes), field) == _value(field, first), present


@pytest.mark.parametrize("field", list(TEXT_ROWS))
def test_empty_values_do_not_count_as_present(field: str) -> None:
    names = ROWS[field]
    record = decode({names[0]: "", names[-1]: _value(field, 9)})
    assert getattr(record, field) == _value(field, 9)


@pytest.mark.parametrize("field", list(ROWS))
def test_resource_attributes_are_the_fallback(field: str) -> None:
    names = ROWS[field]
    # only the resource has it: the resource's value
    assert getattr(decode({}, resource={names[0]: _value(field, 0)}), field) == _value(field, 0)
    # the span has even its last-ranked name: the span wins over the resource's first
    span_value = _value(field, 7)
    record = decode({names[-1]: span_value}, resource={names[0]: _value(field, 0)})
    assert getattr(record, field) == span_value


def test_nothing_set_leaves_every_field_empty() -> None:
    record = decode({"http.method": "GET"})
    for field in (*ROWS, "input", "output", "cost"):
        assert getattr(record, field) is None, field
    assert record.tags == () and record.metadata == {}
    assert record.span_type == "DEFAULT"


def test_non_string_ids_become_text() -> None:
    record = decode({"session.id": 42, "user.id": 7})
    assert (record.session_id, record.user_id) == ("42", "7")


@pytest.mark.parametrize(
    ("given", "expected"), [(1234, 1234), (1234.0, 1234), ("1234", 1234), (True, None)]
)
def test_token_counts_as_ints_doubles_or_strings(given: Any, expected: int | None) -> None:
    record = decode({"gen_ai.usage.input_tokens": given, "gen_ai.usage.output_tokens": given})
    assert (record.input_tokens, record.output_tokens) == (expected, expected)


# -- span type ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SPAN_TYPE)
@pytest.mark.parametrize("kind", ["LLM", "TOOL", "CHAIN", "AGENT", "RETRIEVER"])
def test_span_type_attributes(name: str, kind: str) -> None:
    assert decode({name: kind}).span_type == kind


def test_span_type_is_upper_case() -> None:
    assert decode({"lamina.span.type": "tool"}).span_type == "TOOL"


def test_span_type_order() -> None:
    everything = {"openinference.span.kind": "CHAIN", "lmnr.span.type": "TOOL"}
    assert decode(everything).span_type == "TOOL"
    assert decode({**everything, "lamina.span.type": "EVALUATOR"}).span_type == "EVALUATOR"
    assert decode({"openinference.span.kind": "AGENT"}).span_type == "AGENT"


@pytest.mark.parametrize(
    "marker", ["gen_ai.system", "gen_ai.provider.name", "gen_ai.request.model", "llm.model_name"]
)
def test_span_type_llm_is_derived_from_gen_ai_markers(marker: str) -> None:
    assert decode({marker: "openai"}).span_type == "LLM"
    # an explicit type wins over the derived one
    assert decode({marker: "openai", "lmnr.span.type": "TOOL"}).span_type == "TOOL"


def test_span_type_default() -> None:
    assert decode({"gen_ai.usage.input_tokens": 5}).span_type == "DEFAULT"


# -- tags ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TAGS)
def test_tags_from_array_values(name: str) -> None:
    assert decode({name: ["support", "vip", "support"]}).tags == ("support", "vip")


def test_tags_order_first_present_wins() -> None:
    attributes = {"langfuse.trace.tags": ["c"], "lmnr.association.properties.tags": ["b"]}
    assert decode(attributes).tags == ("b",)
    assert decode({**attributes, "tag.tags": ["a"]}).tags == ("a",)


def test_tags_as_a_json_string_or_a_single_string() -> None:
    assert decode({"tag.tags": '["a", "b"]'}).tags == ("a", "b")
    assert decode({"langfuse.trace.tags": "solo"}).tags == ("solo",)


def test_tags_from_the_resource() -> None:
    assert decode({}, resource={"tag.tags": ["from-resource"]}).tags == ("from-resource",)


# -- metadata ----------------------------------------------------------------------------------


def test_metadata_json_object() -> None:
    record = decode({"metadata": '{"channel": "web", "attempt": 2, "beta": true}'})
    assert record.metadata == {"channel": "web", "attempt": "2", "beta": "true"}


@pytest.mark.parametrize(
    "prefix",
    [
        "lmnr.association.properties.metadata.",
        "langfuse.trace.metadata.",
        "traceloop.association.properties.",
    ],
)
def test_metadata_prefixed_attributes(prefix: str) -> None:
    record = decode({f"{prefix}channel": "web", f"{prefix}attempt": 2})
    assert record.metadata == {"channel": "web", "attempt": "2"}


def test_metadata_order_for_the_same_key_whatever_the_attribute_order() -> None:
    names = [
        "traceloop.association.properties.env",
        "langfuse.trace.metadata.env",
        "lmnr.association.properties.metadata.env",
    ]
    for first in range(len(names)):
        attributes = {name: name.split(".")[0] for name in names[first:]}
        assert decode(attributes).metadata == {"env": names[-1].split(".")[0]}, attributes
        attributes = dict(reversed(list(attributes.items())))
        assert decode(attributes).metadata == {"env": names[-1].split(".")[0]}, attributes
    everything = {name: name.split(".")[0] for name in names}
    assert decode({**everything, "metadata": '{"env": "json"}'}).metadata == {"env": "json"}
    assert decode({"metadata": '{"env": "json"}', **everything}).metadata == {"env": "json"}


def test_metadata_from_every_convention_is_merged() -> None:
    record = decode(
        {
            "metadata": '{"a": "1"}',
            "lmnr.association.properties.metadata.b": "2",
            "langfuse.trace.metadata.c": "3",
            "traceloop.association.properties.d": "4",
        },
        resource={"langfuse.trace.metadata.e": "5", "langfuse.trace.metadata.a": "resource"},
    )
    assert record.metadata == {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}


def test_traceloop_session_and_user_are_fields_not_metadata() -> None:
    record = decode(
        {
            "traceloop.association.properties.session_id": "s-1",
            "traceloop.association.properties.user_id": "u-1",
            "traceloop.association.properties.tenant": "acme",
        }
    )
    assert (record.session_id, record.user_id) == ("s-1", "u-1")
    assert record.metadata == {"tenant": "acme"}


def test_laminar_session_user_tags_are_not_metadata() -> None:
    record = decode(
        {
            "lmnr.association.properties.session_id": "s-1",
            "lmnr.association.properties.user_id": "u-1",
            "lmnr.association.properties.tags": ["x"],
            "lmnr.association.properties.metadata.plan": "pro",
        }
    )
    assert (record.session_id, record.user_id, record.tags) == ("s-1", "u-1", ("x",))
    assert record.metadata == {"plan": "pro"}


def test_metadata_that_is_not_a_json_object_is_kept_as_an_attribute() -> None:
    record = decode({"metadata": "not json"})
    assert record.metadata == {}
    assert kept(record)["metadata"] == "not json"


# -- input and output -------------------------------------------------------------------------

INPUT = ["input.value", "lmnr.span.input", "gen_ai.input.messages"]
OUTPUT = ["output.value", "lmnr.span.output", "gen_ai.output.messages"]


@pytest.mark.parametrize(
    ("field", "names", "indexed", "late"),
    [
        ("input", INPUT, "gen_ai.prompt", "traceloop.entity.input"),
        ("output", OUTPUT, "gen_ai.completion", "traceloop.entity.output"),
    ],
)
def test_payload_order(field: str, names: list[str], indexed: str, late: str) -> None:
    attributes: dict[str, Any] = {
        late: "from traceloop",
        f"{indexed}.0.role": "user",
        f"{indexed}.0.content": "from indexed",
    }
    assert getattr(decode({late: "from traceloop"}), field) == "from traceloop"
    assert json.loads(getattr(decode(attributes), field)) == [
        {"role": "user", "content": "from indexed"}
    ]
    for name in reversed(names):
        attributes = {name: f"from {name}", **attributes}
        assert getattr(decode(attributes), field) == f"from {name}"
    assert getattr(decode(attributes), field) == f"from {names[0]}"


@pytest.mark.parametrize("prefix", ["gen_ai.prompt", "gen_ai.completion"])
def test_indexed_messages_in_numeric_order(prefix: str) -> None:
    attributes: dict[str, Any] = {}
    for index in reversed(range(12)):
        attributes[f"{prefix}.{index}.role"] = "user" if index % 2 == 0 else "assistant"
        attributes[f"{prefix}.{index}.content"] = f"message {index}"
    record = decode(attributes)
    text = record.input if prefix == "gen_ai.prompt" else record.output
    messages = json.loads(text or "")
    assert [m["content"] for m in messages] == [f"message {i}" for i in range(12)]
    assert messages[1] == {"role": "assistant", "content": "message 1"}
    assert not any(key.startswith(prefix) for key in kept(record))  # moved, not duplicated


def test_payloads_are_kept_exactly_and_moved_out_of_the_attributes() -> None:
    text = '{"messages": [{"role": "user", "content": "héllo \\u00e9 🙂"}]}'
    record = decode({"input.value": text, "output.value": "  spaced  ", "http.route": "/x"})
    assert record.input == text and record.output == "  spaced  "
    assert kept(record) == {"http.route": "/x"}


def test_structured_payloads_become_json_text() -> None:
    record = decode({"input.value": {"question": "hi", "k": 3}, "output.value": ["a", 1]})
    assert json.loads(record.input or "") == {"question": "hi", "k": 3}
    assert json.loads(record.output or "") == ["a", 1]


def test_payload_attributes_that_are_not_used_are_kept() -> None:
    record = decode(
        {
            "input.value": "used",
            "lmnr.span.input": "second",
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "third",
            "traceloop.entity.input": "fourth",
        }
    )
    assert record.input == "used"
    assert kept(record) == {
        "lmnr.span.input": "second",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "third",
        "traceloop.entity.input": "fourth",
    }


# -- cost ----------------------------------------------------------------------------------------


def test_cost_attribute() -> None:
    assert decode({"gen_ai.usage.cost": 0.5}).cost == 0.5
    assert decode({"llm.cost.total": 0.25}).cost == 0.25
    both = decode({"gen_ai.usage.cost": 0.5, "llm.cost.total": 0.25})
    assert both.cost == 0.5


def test_cost_from_input_and_output_cost() -> None:
    parts = {"gen_ai.usage.input_cost": 0.01, "gen_ai.usage.output_cost": 0.02}
    assert decode(parts).cost == pytest.approx(0.03)
    assert decode({"gen_ai.usage.input_cost": 0.01}).cost == pytest.approx(0.01)
    assert decode({**parts, "gen_ai.usage.cost": 0.5}).cost == 0.5


def test_input_and_output_cost_rank_before_llm_cost_total() -> None:
    record = decode(
        {
            "gen_ai.usage.input_cost": 0.01,
            "gen_ai.usage.output_cost": 0.02,
            "llm.cost.total": 9.0,
        }
    )
    assert record.cost == pytest.approx(0.03)


def test_cost_computed_from_the_price_table() -> None:
    record = decode(
        {
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 1_000_000,
            "gen_ai.usage.output_tokens": 1_000_000,
        }
    )
    assert record.cost == pytest.approx(0.15 + 0.60)


def test_explicit_cost_wins_over_the_price_table() -> None:
    record = decode(
        {
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 1_000_000,
            "gen_ai.usage.cost": 0.001,
        }
    )
    assert record.cost == 0.001


def test_no_cost_without_model_or_tokens_or_price() -> None:
    assert decode({"gen_ai.usage.input_tokens": 10}).cost is None
    assert decode({"gen_ai.request.model": "gpt-4o"}).cost is None
    assert decode({"gen_ai.request.model": "homemade", "gen_ai.usage.input_tokens": 9}).cost is None


# -- each SDK's real spans ------------------------------------------------------------------------


def test_laminar_sdk_llm_span() -> None:
    record = decode(
        {
            "lmnr.span.type": "LLM",
            "lmnr.span.path": ["chat", "openai.chat"],
            "lmnr.span.input": '[{"role": "user", "content": "hi"}]',
            "lmnr.span.output": '[{"role": "assistant", "content": "hello"}]',
            "lmnr.association.properties.session_id": "sess-1",
            "lmnr.association.properties.user_id": "user-1",
            "lmnr.association.properties.tags": ["beta"],
            "lmnr.association.properties.metadata.plan": "pro",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 3,
            "gen_ai.usage.input_cost": 0.00003,
            "gen_ai.usage.output_cost": 0.00003,
            "gen_ai.usage.cost": 0.00006,
        },
        resource={"service.name": "laminar-app"},
    )
    assert record.span_type == "LLM"
    assert (record.session_id, record.user_id) == ("sess-1", "user-1")
    assert record.tags == ("beta",) and record.metadata == {"plan": "pro"}
    assert record.input == '[{"role": "user", "content": "hi"}]'
    assert record.output == '[{"role": "assistant", "content": "hello"}]'
    assert (record.model, record.provider) == ("gpt-4o-2024-08-06", "openai")
    assert (record.input_tokens, record.output_tokens) == (12, 3)
    assert record.cost == pytest.approx(0.00006)
    assert kept(record)["lmnr.span.path"] == ["chat", "openai.chat"]
    assert record.service_name == "laminar-app"


def test_openinference_llm_span() -> None:
    record = decode(
        {
            "openinference.span.kind": "LLM",
            "input.value": '{"messages": [{"role": "user", "content": "hi"}]}',
            "input.mime_type": "application/json",
            "output.value": "hello",
            "llm.model_name": "claude-3-5-haiku-20241022",
            "llm.provider": "anthropic",
            "llm.system": "anthropic",
            "llm.token_count.prompt": 2000,
            "llm.token_count.completion": 100,
            "llm.token_count.total": 2100,
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "hi",
            "session.id": "oi-session",
            "user.id": "oi-user",
            "metadata": '{"experiment": "a"}',
            "tag.tags": ["t1", "t2"],
        }
    )
    assert record.span_type == "LLM"
    assert (record.session_id, record.user_id) == ("oi-session", "oi-user")
    assert record.metadata == {"experiment": "a"} and record.tags == ("t1", "t2")
    assert record.output == "hello"
    assert (record.model, record.provider) == ("claude-3-5-haiku-20241022", "anthropic")
    assert (record.input_tokens, record.output_tokens) == (2000, 100)
    assert record.cost == pytest.approx(2000 * 0.8 / 1e6 + 100 * 4.0 / 1e6)
    assert kept(record)["llm.input_messages.0.message.content"] == "hi"
    assert kept(record)["llm.token_count.total"] == 2100


def test_openinference_chain_span() -> None:
    record = decode({"openinference.span.kind": "CHAIN", "input.value": "q", "output.value": "a"})
    assert (record.span_type, record.input, record.output) == ("CHAIN", "q", "a")


def test_openllmetry_llm_and_workflow_spans() -> None:
    llm = decode(
        {
            "llm.request.type": "chat",
            "gen_ai.system": "OpenAI",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "be brief",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "hi",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "hello",
            "gen_ai.completion.0.finish_reason": "stop",
            "gen_ai.usage.prompt_tokens": 1_000_000,
            "gen_ai.usage.completion_tokens": 0,
            "llm.usage.total_tokens": 1_000_000,
            "traceloop.association.properties.session_id": "tl-session",
            "traceloop.association.properties.user_id": "tl-user",
            "traceloop.association.properties.tenant": "acme",
        }
    )
    assert llm.span_type == "LLM"
    assert (llm.session_id, llm.user_id, llm.metadata) == (
        "tl-session",
        "tl-user",
        {"tenant": "acme"},
    )
    assert json.loads(llm.input or "") == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert json.loads(llm.output or "") == [
        {"role": "assistant", "content": "hello", "finish_reason": "stop"}
    ]
    assert (llm.model, llm.provider) == ("gpt-4o-mini-2024-07-18", "OpenAI")
    assert (llm.input_tokens, llm.output_tokens) == (1_000_000, 0)
    assert llm.cost == pytest.approx(0.15)

    workflow = decode(
        {
            "traceloop.span.kind": "workflow",
            "traceloop.entity.name": "answer_question",
            "traceloop.entity.input": '{"args": ["hi"], "kwargs": {}}',
            "traceloop.entity.output": '"hello"',
            "traceloop.association.properties.session_id": "tl-session",
        }
    )
    assert workflow.span_type == "DEFAULT"
    assert workflow.input == '{"args": ["hi"], "kwargs": {}}' and workflow.output == '"hello"'
    assert kept(workflow)["traceloop.span.kind"] == "workflow"


def test_langfuse_span() -> None:
    record = decode(
        {
            "langfuse.session.id": "lf-session",
            "langfuse.user.id": "lf-user",
            "langfuse.trace.tags": ["prod", "rag"],
            "langfuse.trace.metadata.release": "1.4",
            "langfuse.observation.type": "generation",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 10,
        }
    )
    assert (record.session_id, record.user_id) == ("lf-session", "lf-user")
    assert record.tags == ("prod", "rag") and record.metadata == {"release": "1.4"}
    assert record.span_type == "LLM"
    assert record.cost == pytest.approx(100 * 2.5 / 1e6 + 10 * 10.0 / 1e6)


def test_vercel_ai_sdk_spans() -> None:
    generate = decode(
        {
            "operation.name": "ai.generateText.doGenerate my-function",
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.telemetry.functionId": "my-function",
            "ai.telemetry.metadata.sessionId": "v-session",
            "ai.telemetry.metadata.userId": "v-user",
            "ai.model.id": "gpt-4o-mini",
            "ai.model.provider": "openai.chat",
            "ai.usage.promptTokens": 1_000_000,
            "ai.usage.completionTokens": 1_000_000,
            "gen_ai.system": "openai.chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.input_tokens": 1_000_000,
            "gen_ai.usage.output_tokens": 1_000_000,
        },
        name="ai.generateText.doGenerate",
    )
    assert (generate.session_id, generate.user_id) == ("v-session", "v-user")
    assert generate.span_type == "LLM"
    assert (generate.model, generate.provider) == ("gpt-4o-mini-2024-07-18", "openai.chat")
    assert generate.cost == pytest.approx(0.15 + 0.60)
    assert kept(generate)["ai.model.provider"] == "openai.chat"
    snake = decode({"ai.telemetry.metadata.session_id": "v-snake"})
    assert snake.session_id == "v-snake"


# -- everything else is kept ------------------------------------------------------------------


def test_unknown_attributes_are_kept_with_their_types() -> None:
    record = decode(
        {
            "http.status_code": 200,
            "ratio": 0.5,
            "cached": False,
            "paths": ["a", "b"],
            "numbers": [1, 2],
            "nested": {"k": "v", "deeper": {"n": 1}},
            "raw": b"\x00\x01",
        }
    )
    assert kept(record) == {
        "http.status_code": 200,
        "ratio": 0.5,
        "cached": False,
        "paths": ["a", "b"],
        "numbers": [1, 2],
        "nested": {"k": "v", "deeper": {"n": 1}},
        "raw": "AAE=",
    }


def test_fields_taken_from_attributes_are_still_kept() -> None:
    record = decode({"session.id": "s", "gen_ai.usage.input_tokens": 3})
    assert kept(record) == {"session.id": "s", "gen_ai.usage.input_tokens": 3}


def test_events_and_resource_are_kept() -> None:
    start = 1_767_225_600 * 1_000_000_000
    record = decode(
        {},
        resource={"service.name": "svc", "deployment.environment": "prod"},
        start_ns=start,
        events=[
            (
                "exception",
                start + 5 * MS,
                {"exception.type": "ValueError", "exception.message": "boom"},
            ),
            ("retry", start + 6 * MS, {"attempt": 2}),
        ],
    )
    assert orjson.loads(record.events) == [
        {
            "name": "exception",
            "time_ns": start + 5 * MS,
            "attributes": {"exception.type": "ValueError", "exception.message": "boom"},
        },
        {"name": "retry", "time_ns": start + 6 * MS, "attributes": {"attempt": 2}},
    ]
    assert orjson.loads(record.resource) == {
        "service.name": "svc",
        "deployment.environment": "prod",
    }
    assert record.service_name == "svc"


def _field(tag: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, by hand (the protobuf classes refuse to build
    what a hostile client can send)."""
    size, length = b"", len(payload)
    while True:
        byte = length & 0x7F
        length >>= 7
        size += bytes([byte | (0x80 if length else 0)])
        if not length:
            return bytes([tag]) + size + payload


def _nested_request(levels: int) -> bytes:
    value = _field(0x0A, b"bottom")  # AnyValue.string_value
    for _ in range(levels):  # AnyValue.kvlist_value -> KeyValueList.values -> KeyValue
        value = _field(0x32, _field(0x0A, _field(0x0A, b"k") + _field(0x12, value)))
    attribute = _field(0x0A, b"deep") + _field(0x12, value)
    span = (
        _field(0x0A, b"\x01" * 16) + _field(0x12, b"\x02" * 8) + _field(0x2A, b"deep")
    ) + _field(0x4A, attribute)
    return _field(0x0A, _field(0x12, _field(0x12, span)))


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_nested_values_are_decoded_whole(encoding: str) -> None:
    request = parse_protobuf(_nested_request(25)) if encoding == "protobuf" else None
    request = request or parse_json(_nested_json(25))
    (record,) = spans_of(decode_request(request, "p", PRICES.cost))
    value = kept(record)["deep"]
    for _ in range(25):
        value = value["k"]
    assert value == "bottom"


@pytest.mark.parametrize("levels", [200, 5000])
def test_hostile_nesting_is_a_bad_request_not_a_crash(levels: int) -> None:
    with pytest.raises(BadRequest):
        decode_request(parse_protobuf(_nested_request(levels)), "p", PRICES.cost)
    with pytest.raises(BadRequest):
        parse_json(_nested_json(levels))


def _nested_json(levels: int) -> bytes:
    """As text: JSON encoders refuse to nest this deep."""
    head = '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "' + "01" * 16
    head += '", "spanId": "' + "02" * 8 + '", "name": "deep", "attributes": [{"key": "deep", '
    head += '"value": ' + '{"kvlistValue": {"values": [{"key": "k", "value": ' * levels
    tail = "}]}}" * levels + "}]}]}]}]}"
    return (head + '{"stringValue": "bottom"}' + tail).encode()


# -- ids, times, status -------------------------------------------------------------------------


def test_ids_times_status_and_parent() -> None:
    trace_id, root_id = otlp.new_trace_id(), otlp.new_span_id()
    start = 1_767_225_600_123_456_789
    request = otlp.export(
        [
            otlp.span(trace_id, "root", span_id=root_id, start_ns=start, duration_ms=5),
            otlp.span(
                trace_id, "child", parent=root_id, start_ns=start + 1, error="bad", duration_ms=1
            ),
        ]
    )
    request.resource_spans[0].scope_spans[0].spans[0].status.code = 0  # unset
    root, child = spans_of(decode_request(request, "p", PRICES.cost))
    assert root.trace_id == trace_id.hex() and root.span_id == root_id.hex()
    assert root.parent_span_id is None and child.parent_span_id == root_id.hex()
    assert (root.start_ns, root.end_ns) == (start, start + 5 * MS)
    assert (root.status, child.status, child.status_message) == ("unset", "error", "bad")
    assert root.project_id == "p"


def test_an_all_zero_parent_is_no_parent_and_end_before_start_is_clamped() -> None:
    request = otlp.export(
        [otlp.span(otlp.new_trace_id(), "x", parent=bytes(8), start_ns=1000, duration_ms=0)]
    )
    request.resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano = 10
    (record,) = spans_of(decode_request(request, "p", PRICES.cost))
    assert record.parent_span_id is None
    assert record.end_ns == record.start_ns == 1000


@pytest.mark.parametrize(
    ("trace_id", "span_id", "parent", "says"),
    [
        (b"", b"\x01" * 8, b"", "trace_id"),
        (b"\x01" * 15, b"\x01" * 8, b"", "trace_id"),
        (bytes(16), b"\x01" * 8, b"", "trace_id"),
        (b"\x01" * 16, b"", b"", "span_id"),
        (b"\x01" * 16, bytes(8), b"", "span_id"),
        (b"\x01" * 16, b"\x01" * 8, b"\x01" * 4, "parent_span_id"),
    ],
    ids=["empty-trace", "short-trace", "zero-trace", "empty-span", "zero-span", "short-parent"],
)
def test_invalid_ids_are_rejected_and_counted(
    trace_id: bytes, span_id: bytes, parent: bytes, says: str
) -> None:
    good = otlp.span(otlp.new_trace_id(), "good")
    bad = otlp.span(trace_id, "bad", span_id=span_id, parent=parent)
    batch = decode_request(otlp.export([good, bad, good]), "p", PRICES.cost)
    assert batch.count == 2 and batch.rejected == 1
    assert says in batch.rejection and batch.rejection.startswith("1 span(s)")


def test_times_past_int64_are_rejected_and_absurd_counts_dropped() -> None:
    """A fixed64 time no int64 column holds rejects its span; a token count no model can
    produce is dropped; neither may fail the write of other spans."""
    future = otlp.span(otlp.new_trace_id(), "future")
    future.end_time_unix_nano = 2**64 - 1
    good = otlp.span(otlp.new_trace_id(), "good")
    batch = decode_request(otlp.export([future, good]), "p", PRICES.cost)
    assert [r.name for r in spans_of(batch)] == ["good"] and batch.rejected == 1
    assert "time" in batch.rejection
    record = decode({"gen_ai.usage.input_tokens": "9" * 20, "gen_ai.usage.output_tokens": 7})
    assert (record.input_tokens, record.output_tokens) == (None, 7)


# -- the OTLP JSON encoding ------------------------------------------------------------------------


def test_json_encoding_decodes_like_protobuf() -> None:
    trace_id = otlp.new_trace_id()
    spans = [
        otlp.span(
            trace_id,
            "root",
            start_ns=1_767_225_600_000_000_001,
            attributes={
                "session.id": "s",
                "gen_ai.usage.input_tokens": 5_000_000_000,
                "tag.tags": ["a"],
                "nested": {"k": [1, "x"]},
            },
            error="nope",
            events=[("e", 1_767_225_600_000_000_002, {"n": 1})],
        )
    ]
    request = otlp.export(spans, resource={"service.name": "json"})
    from_json = spans_of(
        decode_request(parse_json(orjson.dumps(otlp.to_otlp_json(request))), "p", PRICES.cost)
    )
    from_protobuf = spans_of(
        decode_request(parse_protobuf(request.SerializeToString()), "p", PRICES.cost)
    )
    assert from_json == from_protobuf
    assert from_json[0].input_tokens == 5_000_000_000
    assert from_json[0].start_ns == 1_767_225_600_000_000_001


def test_json_accepts_enum_names_numbers_for_int64_and_unknown_fields() -> None:
    document = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "EEE19B7EC3C1B174",
                                "name": "x",
                                "kind": "SPAN_KIND_SERVER",
                                "startTimeUnixNano": 1544712660000000000,
                                "endTimeUnixNano": "1544712661000000000",
                                "status": {"code": "STATUS_CODE_ERROR"},
                                "someFutureField": {"a": 1},
                                "attributes": [
                                    {"key": "n", "value": {"intValue": 5}},
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    (record,) = spans_of(decode_request(parse_json(orjson.dumps(document)), "p", PRICES.cost))
    assert record.trace_id == "5b8efff798038103d269b633813fc60c"
    assert record.span_id == "eee19b7ec3c1b174"
    assert record.status == "error"
    assert record.end_ns - record.start_ns == 1_000_000_000
    assert kept(record) == {"n": 5}


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'"text"', b'{"resourceSpans": {}}', b'{"resourceSpans": [{"scopeSpans": 3}]}'],
)
def test_json_that_is_not_an_export_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_json(body)
    assert raised.value.status == 400 and raised.value.message


def test_protobuf_that_does_not_parse_is_a_bad_request() -> None:
    data = otlp.export([otlp.span(otlp.new_trace_id(), "x")]).SerializeToString()
    with pytest.raises(BadRequest) as raised:
        parse_protobuf(data[:-3])
    assert "protobuf" in raised.value.message


def test_empty_bodies_are_empty_exports() -> None:
    assert spans_of(decode_request(parse_protobuf(b""), "p", PRICES.cost)) == []
    assert spans_of(decode_request(parse_json(b"{}"), "p", PRICES.cost)) == []
    assert isinstance(parse_protobuf(b""), ExportTraceServiceRequest)


def test_a_message_index_too_long_to_be_one_is_kept_as_an_attribute() -> None:
    """An "index" of thousands of digits is no message position: the span is stored with
    the attribute as it came, not refused or answered with a server error."""
    name = "gen_ai.prompt." + "9" * 5000 + ".content"
    record = decode({name: "hello", "gen_ai.prompt.0.role": "user"})
    assert kept(record)[name] == "hello"
