"""The model price table: its contents, name matching, cost arithmetic and override files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from lamina.pricing import ModelPrice, PriceTable


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def _write(tmp_path: Path, content: Any, name: str = "prices.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


# --- the built-in table --------------------------------------------------------------------


def test_builtin_table_has_at_least_100_models(table: PriceTable) -> None:
    assert len(table) >= 100
    assert len(list(table)) == len(table)


def test_every_entry_has_positive_prices_and_a_valid_date(table: PriceTable) -> None:
    today = date.today()
    for price in table:
        assert price.input_per_mtok > 0, price
        if "embed" not in price.model:  # embedding models bill input only
            assert price.output_per_mtok > 0, price
        assert price.output_per_mtok >= 0, price
        if price.cached_input_per_mtok is not None:
            assert 0 < price.cached_input_per_mtok < price.input_per_mtok, price
        as_of = date.fromisoformat(price.as_of)
        assert date(2024, 1, 1) <= as_of <= today, price


def test_builtin_file_names_a_source_for_every_provider() -> None:
    root = Path(__file__).resolve().parents[1] / "src" / "lamina" / "data" / "prices.json"
    data = json.loads(root.read_text(encoding="utf-8"))
    date.fromisoformat(data["as_of"])
    used = {entry["provider"] for entry in data["models"]}
    assert used <= set(data["providers"])
    for provider, info in data["providers"].items():
        assert info["source"].strip(), provider


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "o1",
        "o3",
        "o3-mini",
        "o4-mini",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
        "gpt-3.5-turbo",
        "text-embedding-3-small",
        "claude-3-haiku",
        "claude-3-opus",
        "claude-3-5-haiku",
        "claude-3-5-sonnet",
        "claude-3-7-sonnet",
        "claude-sonnet-4",
        "claude-opus-4",
        "claude-opus-4-1",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-opus-4-5",
        "gemini-1.5-pro",
        "gemini-1.5-flash",
        "gemini-2.0-flash",
        "gemini-2.0-flash-lite",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "mistral-large-latest",
        "mistral-medium-latest",
        "mistral-small-latest",
        "codestral-latest",
        "ministral-8b-latest",
        "open-mistral-nemo",
        "pixtral-large-latest",
        "deepseek-chat",
        "deepseek-reasoner",
        "grok-4",
        "command-a-03-2025",
    ],
)
def test_major_models_are_priced(table: PriceTable, model: str) -> None:
    assert table.lookup(model) is not None


# --- cost arithmetic ----------------------------------------------------------------------


def test_cost_of_a_known_model(table: PriceTable) -> None:
    # gpt-4o: $2.50 per 1M input, $10 per 1M output.
    assert table.cost("gpt-4o", "openai", 1_000_000, 1_000_000) == pytest.approx(12.5)
    assert table.cost("gpt-4o", "openai", 1200, 350) == pytest.approx(0.0065)
    # claude-3-5-haiku: $0.80 / $4.
    assert table.cost("claude-3-5-haiku-20241022", None, 2000, 500) == pytest.approx(0.0036)


def test_cost_treats_a_missing_count_as_zero(table: PriceTable) -> None:
    assert table.cost("gpt-4o", None, 1_000_000, None) == pytest.approx(2.5)
    assert table.cost("gpt-4o", None, None, 1_000_000) == pytest.approx(10.0)
    assert table.cost("gpt-4o", None, 0, 0) == 0.0


def test_cost_is_none_without_token_counts_or_a_known_model(table: PriceTable) -> None:
    assert table.cost("gpt-4o", "openai", None, None) is None
    assert table.cost("my-own-finetune", None, 100, 100) is None
    assert table.cost(None, "openai", 100, 100) is None
    assert table.cost("", None, 100, 100) is None


def test_embedding_cost_counts_input_only(table: PriceTable) -> None:
    assert table.cost("text-embedding-3-small", "openai", 1_000_000, None) == pytest.approx(0.02)


# --- name matching ------------------------------------------------------------------------


def _model(table: PriceTable, name: str, provider: str | None = None) -> str | None:
    price = table.lookup(name, provider)
    return None if price is None else price.model


def test_matching_is_case_insensitive(table: PriceTable) -> None:
    assert _model(table, "GPT-4o") == "gpt-4o"
    assert _model(table, "  Claude-3-5-Sonnet-20241022 ") == "claude-3-5-sonnet"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("openai/gpt-4o", "gpt-4o"),
        ("anthropic/claude-3-7-sonnet-20250219", "claude-3-7-sonnet"),
        ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet"),  # OpenRouter's dotted spelling
        ("models/gemini-1.5-pro", "gemini-1.5-pro"),
        ("google/gemini-2.5-flash", "gemini-2.5-flash"),
        ("mistral/mistral-large-latest", "mistral-large"),
    ],
)
def test_provider_prefixes_are_ignored(table: PriceTable, raw: str, expected: str) -> None:
    assert _model(table, raw) == expected


def test_fireworks_account_path(table: PriceTable) -> None:
    price = table.lookup("accounts/fireworks/models/llama-v3p1-70b-instruct")
    assert price is not None
    assert price.provider == "fireworks"
    assert price.input_per_mtok == pytest.approx(0.90)


def test_hugging_face_style_together_name(table: PriceTable) -> None:
    price = table.lookup("meta-llama/Llama-3.3-70B-Instruct-Turbo", "together_ai")
    assert price is not None
    assert price.provider == "together"
    assert price.input_per_mtok == pytest.approx(0.88)


def test_bedrock_model_ids(table: PriceTable) -> None:
    claude = table.lookup("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "aws.bedrock")
    assert claude is not None
    assert claude.model == "claude-3-5-sonnet"
    assert claude.input_per_mtok == pytest.approx(3.0)
    assert _model(table, "anthropic.claude-3-haiku-20240307-v1:0") == "claude-3-haiku"
    llama = table.lookup("meta.llama3-3-70b-instruct-v1:0")
    assert llama is not None
    assert llama.provider == "bedrock"
    assert llama.input_per_mtok == pytest.approx(0.72)


def test_vertex_snapshot_suffix(table: PriceTable) -> None:
    assert _model(table, "claude-3-5-sonnet-v2@20241022") == "claude-3-5-sonnet"
    assert _model(table, "claude-sonnet-4@20250514") == "claude-sonnet-4"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-11-20", "gpt-4o"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("gpt-5-2025-08-07", "gpt-5"),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("mistral-large-2411", "mistral-large"),
        ("gemini-1.5-pro-002", "gemini-1.5-pro"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("command-r-plus-08-2024", "command-r-plus"),
        ("grok-4-0709", "grok-4"),
    ],
)
def test_dated_snapshots_fall_back_to_the_base_model(
    table: PriceTable, raw: str, expected: str
) -> None:
    assert _model(table, raw) == expected


def test_a_snapshot_with_its_own_price_is_not_collapsed(table: PriceTable) -> None:
    first = table.lookup("gpt-4o-2024-05-13")
    assert first is not None
    assert first.input_per_mtok == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # not gpt-4o
        ("gpt-4o-mini-search-preview-2025-03-11", "gpt-4o-mini-search-preview"),
        ("gemini-2.5-flash-lite-preview-06-17", "gemini-2.5-flash-lite"),  # not gemini-2.5-flash
        ("gemini-2.5-pro-preview-06-05", "gemini-2.5-pro"),
        ("o1-preview-2024-09-12", "o1"),
        ("gpt-4-1106-preview", "gpt-4-turbo"),  # an alias, not gpt-4
    ],
)
def test_longest_prefix_wins(table: PriceTable, raw: str, expected: str) -> None:
    assert _model(table, raw) == expected


def test_a_newer_version_is_not_priced_as_an_older_one(table: PriceTable) -> None:
    # "claude-opus-4-9" starts with "claude-opus-4" but is a different model.
    assert table.lookup("claude-opus-4-9-20990101") is None
    assert table.lookup("gpt-4.9") is None


def test_unknown_models_are_none(table: PriceTable) -> None:
    assert table.lookup("totally-unknown-model") is None
    assert table.lookup("ft:gpt-4o-mini-2024-07-18:acme::abc123") is None
    assert table.lookup(None) is None
    assert table.lookup("") is None
    assert table.lookup("openai/") is None


def test_provider_picks_between_hosts_of_the_same_name(table: PriceTable) -> None:
    name = "meta-llama/llama-4-scout-17b-16e-instruct"
    groq = table.lookup(name, "groq")
    together = table.lookup(name, "together")
    assert groq is not None and together is not None
    assert groq.provider == "groq"
    assert together.provider == "together"
    assert groq.input_per_mtok != together.input_per_mtok
    # A provider that serves no such entry still gets a price rather than None.
    assert table.lookup(name, "some-other-host") is not None


def test_lookups_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = PriceTable.load()
    first = fresh.lookup("OpenAI/GPT-4o-2024-08-06", "openai")

    assert first is not None and first.model == "gpt-4o"

    def fail(*args: object) -> ModelPrice | None:
        raise AssertionError("a repeated lookup must not resolve the name again")

    monkeypatch.setattr(PriceTable, "_resolve", fail)
    assert fresh.lookup("OpenAI/GPT-4o-2024-08-06", "openai") is first
    assert fresh.cost("OpenAI/GPT-4o-2024-08-06", "openai", 10, 10) is not None


# --- override files -----------------------------------------------------------------------


def test_override_replaces_a_price_and_adds_a_model(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "as_of": "2026-01-15",
            "models": [
                {
                    "model": "gpt-4o",
                    "provider": "openai",
                    "input_per_mtok": 1.0,
                    "output_per_mtok": 4.0,
                },
                {
                    "model": "acme-llm-7b",
                    "provider": "acme",
                    "input_per_mtok": 0.5,
                    "output_per_mtok": 1.5,
                    "cached_input_per_mtok": 0.05,
                    "as_of": "2026-02-01",
                    "aliases": ["acme/llm-7b-chat"],
                },
            ],
        },
    )
    builtin = PriceTable.load()
    table = PriceTable.load(path)

    assert len(table) == len(builtin) + 1
    gpt4o = table.lookup("gpt-4o-2024-08-06")
    assert gpt4o is not None
    assert (gpt4o.input_per_mtok, gpt4o.output_per_mtok, gpt4o.as_of) == (1.0, 4.0, "2026-01-15")
    assert table.cost("gpt-4o", "openai", 1_000_000, 1_000_000) == pytest.approx(5.0)

    acme = table.lookup("ACME-LLM-7B")
    assert acme == ModelPrice("acme-llm-7b", "acme", 0.5, 1.5, 0.05, "2026-02-01")
    assert table.lookup("llm-7b-chat") == acme
    # Everything else is still the built-in price.
    assert table.lookup("gpt-4o-mini") == builtin.lookup("gpt-4o-mini")


def test_override_entry_wins_over_builtin_entries_of_the_same_name(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "models": [
                {
                    "model": "gpt-4o",
                    "provider": "azure",
                    "input_per_mtok": 2.75,
                    "output_per_mtok": 11.0,
                    "as_of": "2026-01-15",
                }
            ]
        },
    )
    table = PriceTable.load(path)
    azure = table.lookup("gpt-4o")
    assert azure is not None and azure.provider == "azure"
    openai = table.lookup("gpt-4o", "openai")
    assert openai is not None and openai.input_per_mtok == pytest.approx(2.5)
    assert table.lookup("gpt-4o", "az.ai.openai") == azure


def test_the_builtin_table_is_a_valid_override_file(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1] / "src" / "lamina" / "data" / "prices.json"
    path = _write(tmp_path, root.read_text(encoding="utf-8"))
    assert len(PriceTable.load(path)) == len(PriceTable.load())


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ('{"models": [', ["not valid JSON", "line 1"]),
        ("[]", ["JSON object", "a list"]),
        ({"model": []}, ['unknown top-level field "model"', '"models"']),
        ({"as_of": "2026-01-01"}, ['missing the "models" field']),
        ({"models": {"gpt-4o": 1}}, ['"models" must be a list']),
        ({"models": ["gpt-4o"]}, ["models[0] must be an object"]),
        (
            {
                "models": [
                    {
                        "model": "gpt-4o",
                        "provider": "openai",
                        "input_per_mtok": 1,
                        "as_of": "2026-01-01",
                    }
                ]
            },
            ["models[0] ('gpt-4o')", 'missing "output_per_mtok"', "USD per 1M output tokens"],
        ),
        (
            {
                "models": [
                    {
                        "model": "gpt-4o",
                        "provider": "openai",
                        "input_per_mtok": "2.5",
                        "output_per_mtok": 10,
                        "as_of": "2026-01-01",
                    }
                ]
            },
            ['"input_per_mtok" must be a number', "the string '2.5'"],
        ),
        (
            {
                "models": [
                    {
                        "model": "gpt-4o",
                        "provider": "openai",
                        "input_per_mtok": -1,
                        "output_per_mtok": 10,
                        "as_of": "2026-01-01",
                    }
                ]
            },
            ['"input_per_mtok"', "0 or more", "-1"],
        ),
        (
            {
                "models": [
                    {
                        "model": "gpt-4o",
                        "provider": "openai",
                        "input_price": 2.5,
                        "input_per_mtok": 2.5,
                        "output_per_mtok": 10,
                        "as_of": "2026-01-01",
                    }
                ]
            },
            ['unknown field "input_price"', "allowed fields are"],
        ),
        (
            {
                "models": [
                    {
                        "model": "gpt-4o",
                        "provider": "openai",
                        "input_per_mtok": 2.5,
                        "output_per_mtok": 10,
                        "as_of": "15/01/2026",
                    }
                ]
            },
            ['"as_of" must be a date written "YYYY-MM-DD"', "15/01/2026"],
        ),
        (
            {
                "models": [
                    {
                        "model": "gpt-4o",
                        "provider": "openai",
                        "input_per_mtok": 2.5,
                        "output_per_mtok": 10,
                    }
                ]
            },
            ['missing "as_of"', "top level"],
        ),
        (
            {
                "models": [
                    {
                        "model": "",
                        "provider": "openai",
                        "input_per_mtok": 2.5,
                        "output_per_mtok": 10,
                        "as_of": "2026-01-01",
                    }
                ]
            },
            ['"model" must be a non-empty string'],
        ),
        (
            {
                "as_of": "2026-01-01",
                "models": [
                    {"model": "x-1", "provider": "acme", "input_per_mtok": 1, "output_per_mtok": 1},
                    {"model": "X-1", "provider": "acme", "input_per_mtok": 2, "output_per_mtok": 2},
                ],
            },
            ["models[1]", "repeats models[0]"],
        ),
        ({"currency": "EUR", "models": []}, ['"currency" must be "USD"']),
    ],
)
def test_malformed_override_raises_a_clear_value_error(
    tmp_path: Path, content: Any, fragments: list[str]
) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(ValueError) as excinfo:
        PriceTable.load(path)
    message = str(excinfo.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_missing_override_file_raises_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ValueError, match="cannot read it") as excinfo:
        PriceTable.load(path)
    assert str(path) in str(excinfo.value)
