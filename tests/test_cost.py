"""Cost: computed from the model price table when a span has tokens and a model but no
cost; a cost the client sent always wins. Sent through OTLP, read through the API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LaminaServer
from tests.support import otlp


def _span_cost(server: LaminaServer, attributes: dict[str, Any]) -> tuple[Any, Any]:
    """Send one LLM span; the (span cost, trace cost) the API reports."""
    trace_id = otlp.new_trace_id()
    span = otlp.span(trace_id, "llm", start_ns=time.time_ns(), attributes=attributes)
    response = otlp.post(server.url, server.api_key, otlp.export([span]))
    assert response.status_code == 200, response.text
    trace = otlp.api(server, f"/api/v1/traces/{trace_id.hex()}")
    return trace["spans"][0]["cost"], trace["cost"]


def _mtok(tokens: int, per_mtok: float) -> float:
    return tokens * per_mtok / 1_000_000


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        # gpt-4o-mini: $0.15 in, $0.60 out per million tokens
        (
            {
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 200,
            },
            _mtok(1000, 0.15) + _mtok(200, 0.60),
        ),
        # the response model (the snapshot that ran) is priced, not the request's
        (
            {
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.system": "openai",
                "gen_ai.usage.input_tokens": 10_000,
                "gen_ai.usage.output_tokens": 0,
            },
            _mtok(10_000, 0.15),
        ),
        # OpenLLMetry's older token names, Anthropic's model
        (
            {
                "gen_ai.system": "anthropic",
                "gen_ai.request.model": "claude-sonnet-4-5",
                "gen_ai.usage.prompt_tokens": 2000,
                "gen_ai.usage.completion_tokens": 300,
            },
            _mtok(2000, 3.0) + _mtok(300, 15.0),
        ),
        # OpenInference: llm.model_name and llm.token_count.*, a provider prefix
        (
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "openai/gpt-4o",
                "llm.token_count.prompt": 400,
                "llm.token_count.completion": 100,
            },
            _mtok(400, 2.5) + _mtok(100, 10.0),
        ),
        # only output tokens: input counts as 0
        (
            {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.output_tokens": 1000},
            _mtok(1000, 10.0),
        ),
    ],
    ids=["gen_ai", "response-model", "prompt-tokens", "openinference", "output-only"],
)
def test_cost_from_the_price_table(
    server: LaminaServer, attributes: dict[str, Any], expected: float
) -> None:
    span_cost, trace_cost = _span_cost(server, attributes)
    assert span_cost == pytest.approx(expected, rel=1e-9)
    assert trace_cost == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"gen_ai.usage.cost": 0.42}, 0.42),
        ({"gen_ai.usage.cost": 0.0}, 0.0),  # a free call stays free
        ({"gen_ai.usage.cost": "0.125"}, 0.125),  # as a string, as some SDKs send it
        ({"llm.cost.total": 0.33}, 0.33),
        ({"gen_ai.usage.input_cost": 0.01, "gen_ai.usage.output_cost": 0.02}, 0.03),
    ],
    ids=["gen_ai.usage.cost", "zero", "string", "llm.cost.total", "input+output"],
)
def test_a_cost_the_client_sent_wins(
    server: LaminaServer, attributes: dict[str, Any], expected: float
) -> None:
    base = {
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1_000_000,
        "gen_ai.usage.output_tokens": 1_000_000,
    }
    span_cost, trace_cost = _span_cost(server, {**base, **attributes})
    assert span_cost == pytest.approx(expected)
    assert trace_cost == pytest.approx(expected)


@pytest.mark.parametrize(
    "attributes",
    [
        {"gen_ai.request.model": "my-own-model-7b", "gen_ai.usage.input_tokens": 1000},
        {"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 10},
        {"gen_ai.request.model": "gpt-4o"},
        {"gen_ai.request.model": "claude-opus-4-9", "gen_ai.usage.input_tokens": 5},
    ],
    ids=["unknown-model", "no-model", "no-tokens", "unreleased-version"],
)
def test_no_cost_is_never_guessed(server: LaminaServer, attributes: dict[str, Any]) -> None:
    assert _span_cost(server, attributes) == (None, None)


def test_a_price_file_overrides_and_adds_models(
    new_server: Callable[..., LaminaServer], tmp_path: Path
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps(
            {
                "as_of": "2026-01-15",
                "models": [
                    {
                        "model": "gpt-4o",
                        "provider": "openai",
                        "input_per_mtok": 1.0,
                        "output_per_mtok": 2.0,
                    },
                    {
                        "model": "acme-llm-7b",
                        "provider": "acme",
                        "input_per_mtok": 0.5,
                        "output_per_mtok": 1.5,
                    },
                ],
            }
        )
    )
    server = new_server("--price-file", str(prices))
    tokens = {"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 1000}
    overridden = _span_cost(
        server, {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o", **tokens}
    )
    assert overridden[0] == pytest.approx(_mtok(1000, 1.0) + _mtok(1000, 2.0))
    added = _span_cost(server, {"gen_ai.request.model": "acme-llm-7b", **tokens})
    assert added[0] == pytest.approx(_mtok(1000, 0.5) + _mtok(1000, 1.5))
    builtin = _span_cost(server, {"gen_ai.request.model": "gpt-4o-mini", **tokens})
    assert builtin[0] == pytest.approx(_mtok(1000, 0.15) + _mtok(1000, 0.6))


def test_a_missing_price_file_stops_the_server_with_a_clear_error(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    result = run_cli(
        "serve",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        "0",
        "--grpc-port",
        "0",
        "--price-file",
        str(tmp_path / "nope.json"),
    )
    assert result.returncode == 2
    assert "nope.json" in result.stderr and "Traceback" not in result.stderr
