"""The demo's evaluators: two checks a team would start with, made through the JSON API
(``POST /api/v1/evaluators``) and run over the demo's sessions with a backfill, so the
sessions carry their scores (source ``evaluator:<name>``, on the turn they cite) a
moment after the demo loads; and an LLM judge, ``helpfulness``, defined but off (the
demo reaches no LLM; its description says so), whose earlier verdicts the demo's
scores carry (lamina.demo.scores). An evaluator the project has already is not made
again.

A session judged again: the password reset's first turns (its last one failed) are
sent with the rest, judged by ``last-turn-error`` (found: the error); once that run is
done (:func:`wait_judged`) the demo sends the customer's later turns and backfills
again, so the newer judgement (no error) supersedes it and the session page shows the
older one struck through, with its reasoning."""

from __future__ import annotations

import time
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
JUDGED_AGAIN = "last-turn-error"  # the check whose first judgement the later turns supersede
# How long the demo waits for that first judgement (the server looks for runs every
# evaluator_poll_ms, 5 s by default) before sending the later turns anyway.
WAIT_SECONDS = 30.0


def send_evaluators(client: httpx.Client) -> int:
    """Make the demo's evaluators through ``client`` (its base URL the server, its headers
    the key) unless they exist, and queue every demo session for each; runs queued."""
    known = _known(client)
    for evaluator in EVALUATORS:
        if evaluator["name"] not in known:
            made = client.post("/api/v1/evaluators", json=evaluator)
            _check(made)
    return backfill(client)


def backfill(client: httpx.Client) -> int:
    """Queue every demo session (as stored now) for each enabled demo evaluator."""
    known = _known(client)
    queued = 0
    for name in NAMES:
        filled = client.post(
            f"/api/v1/evaluators/{known[name]}/backfill", json={"since": "2000-01-01T00:00:00Z"}
        )
        _check(filled)
        queued += int(filled.json()["queued"])
    return queued


def wait_judged(client: httpx.Client, session_id: str, seconds: float = WAIT_SECONDS) -> bool:
    """Until JUDGED_AGAIN has judged ``session_id`` (an ok run), at most ``seconds``;
    whether it has."""
    evaluator_id = _known(client)[JUDGED_AGAIN]
    deadline = time.monotonic() + seconds
    while True:
        runs = client.get(
            f"/api/v1/evaluators/{evaluator_id}/runs",
            params={"target_id": session_id, "status": "ok"},
        )
        _check(runs)
        if runs.json()["items"]:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _known(client: httpx.Client) -> dict[str, str]:
    listed = client.get("/api/v1/evaluators")
    _check(listed)
    return {item["name"]: item["id"] for item in listed.json()["items"]}


def _check(response: httpx.Response) -> None:
    if response.status_code not in (200, 201, 202):
        raise RuntimeError(
            f"The server refused the demo's evaluators ({response.request.url.path}): "
            f"{response.status_code} {response.text[:200]}"
        )
