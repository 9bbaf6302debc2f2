"""The demo's evaluators: two checks a team would start with, made through the JSON API
(``POST /api/v1/evaluators``) and run over the demo's sessions with a backfill, so the
sessions carry their scores (source ``evaluator:<name>``, on the turn they cite) a
moment after the demo loads; and an LLM judge, ``helpfulness``, defined but off (the
demo reaches no LLM; its description says so), whose earlier verdicts the demo's
scores carry (lamina.demo.scores). An evaluator the project has already is not made
again."""

from __future__ import annotations

from typing import Any

import httpx

QUIET_SECONDS = 60  # the demo's sessions ended minutes ago: all are quiet
EVALUATORS: list[dict[str, Any]] = [
    {
        "name": "last-turn-error",
        "kind": "check",
        "quiet_seconds": QUIET_SECONDS,
        "check": {"type": "error_in_last_turn"},
    },
    {
        "name": "long-session",
        "kind": "check",
        "quiet_seconds": QUIET_SECONDS,
        "check": {"type": "max_duration", "params": {"seconds": 120}},
    },
    {
        "name": "helpfulness",
        "description": "Off in the demo, which reaches no LLM: its earlier verdicts are on "
        "the sessions (source evaluator:helpfulness). Set OPENAI_API_KEY where the server "
        "runs and turn it on to judge new sessions.",
        "kind": "llm_judge",
        "enabled": False,
        "quiet_seconds": 600,
        "llm": {
            "base_url": "https://api.openai.com/v1",
            "model": "gpt-4o-mini",
            "api_key_env": "OPENAI_API_KEY",
            "prompt": "You review a support assistant's conversation with a customer. How "
            "much did the assistant help the customer, from 0 (not at all) to 1 (fully)? "
            "Name the turn that most decided your score.\n\n{{transcript}}",
            "score": {"name": "helpfulness", "type": "numeric", "min": 0, "max": 1},
        },
    },
]
NAMES = [evaluator["name"] for evaluator in EVALUATORS if evaluator.get("enabled", True)]


def send_evaluators(client: httpx.Client) -> int:
    """Make the demo's evaluators through ``client`` (its base URL the server, its headers
    the key) unless they exist, and queue every demo session for each; runs queued."""
    listed = client.get("/api/v1/evaluators")
    _check(listed)
    known = {item["name"]: item["id"] for item in listed.json()["items"]}
    queued = 0
    for evaluator in EVALUATORS:
        evaluator_id = known.get(evaluator["name"])
        if evaluator_id is None:
            made = client.post("/api/v1/evaluators", json=evaluator)
            _check(made)
            evaluator_id = made.json()["id"]
        if not evaluator.get("enabled", True):
            continue
        filled = client.post(
            f"/api/v1/evaluators/{evaluator_id}/backfill", json={"since": "2000-01-01T00:00:00Z"}
        )
        _check(filled)
        queued += int(filled.json()["queued"])
    return queued


def _check(response: httpx.Response) -> None:
    if response.status_code not in (200, 201, 202):
        raise RuntimeError(
            f"The server refused the demo's evaluators ({response.request.url.path}): "
            f"{response.status_code} {response.text[:200]}"
        )
