"""The demo's judgements: score configs, customers' thumbs, a reviewer's scores and
comments, and the sessions' outcomes, sent through the JSON API as an application
and a reviewer would give them.

- three score configs (``POST /api/v1/score-configs``): ``helpfulness`` (numeric,
  0 to 1), ``thumbs`` (boolean) and ``resolution`` (categorical);
- the customers' thumbs on answers, as the shop's back end sends them with
  ``Laminar.score`` (source ``sdk``), the LLM judge's ``helpfulness`` of the agent's
  run, the refund's third turn and the declined checkout's second (source
  ``evaluator:helpfulness``, its reasoning the comment) and the outcome of the checkout that went
  through: one ``POST /api/v1/scores`` batch; the shop then ends that checkout
  (``POST /api/v1/sessions/{id}/end``), so it is ``ended`` though recent;
- a reviewer's ``helpfulness`` per turn, ``resolution`` and ``outcome`` of the
  sessions that ended, some with a comment, as the pages record them (source ``ui``,
  author her email, given half an hour after each session). A key's scores are its
  own and made at the request's time, so these go as an export's score lines
  (``POST /api/v1/import`` keeps a score's source, author and time) with the admin
  token, the one credential that may import ``ui`` scores; sent with a key alone
  (``lamina demo --url --key``) their source is ``api``.

The discount conversation and the agent's run are still active and unreviewed.
Every score has a fixed id, so sending the demo again adds no score twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from lamina.demo.spans import DemoSession
from lamina.query import scores as judged
from lamina.store.scores import BUILT_IN_CONFIGS, ScoreConfig

CONFIGS: list[dict[str, Any]] = [
    {
        "name": "helpfulness",
        "type": "numeric",
        "min": 0,
        "max": 1,
        "description": "How much the answer helped the customer, 0 to 1.",
    },
    {
        "name": "thumbs",
        "type": "boolean",
        "description": "The customer's thumbs up (true) or down (false) on an answer.",
    },
    {
        "name": "resolution",
        "type": "categorical",
        "categories": [
            {"label": "resolved", "value": 1},
            {"label": "escalated", "value": 0.5},
            {"label": "unresolved", "value": 0},
        ],
        "description": "Whether the customer's problem was solved.",
    },
]
REVIEWER = "dana@acme.example"
JUDGE = "evaluator:helpfulness"  # the demo's LLM judge (lamina.demo.evaluators)
REVIEW_DELAY_NS = 30 * 60 * 1_000_000_000


@dataclass(frozen=True)
class Judgement:
    """A score of the demo: on a session, or on its ``turn``-th trace."""

    story: str
    name: str
    value: float | bool | None = None
    label: str | None = None
    turn: int | None = None
    comment: str | None = None
    source: str = "sdk"


SENT = [
    Judgement("refund", "thumbs", True, turn=0),
    Judgement("refund", "thumbs", True, turn=3),
    Judgement("shipping", "thumbs", True, turn=1),
    Judgement(
        "discount", "thumbs", False, turn=0, comment="I wanted my SUMMER24 code, not another one."
    ),
    Judgement("discount", "thumbs", True, turn=3),
    Judgement("checkout", "outcome", label="success"),
    Judgement(
        "agent",
        "helpfulness",
        0.8,
        turn=0,
        comment="Fixed the failing tests with a small patch; ran them again to check.",
        source=JUDGE,
    ),
    # the helpfulness judge's earlier verdicts (lamina.demo.evaluators), each on the turn
    # it cites, its reasoning the comment
    Judgement(
        "refund",
        "helpfulness",
        0.4,
        turn=2,
        comment="Turn 3 promises an email confirmation, but the assistant has no tool that "
        "sends one: the customer will wait for a message that never comes. The refund "
        "itself was handled well.",
        source=JUDGE,
    ),
    Judgement(
        "declined",
        "helpfulness",
        0.2,
        turn=1,
        comment="Turn 2 only asks the customer to try the declined card again; it offers "
        "no other way to pay and no person to talk to.",
        source=JUDGE,
    ),
]
REVIEWED = [
    Judgement("refund", "helpfulness", 0.9, turn=0, source="ui"),
    Judgement("refund", "helpfulness", 0.8, turn=1, source="ui"),
    Judgement(
        "refund",
        "helpfulness",
        0.3,
        turn=2,
        comment="Promises an email confirmation it has no tool to send.",
        source="ui",
    ),
    Judgement("refund", "helpfulness", 0.9, turn=3, source="ui"),
    Judgement("refund", "resolution", label="resolved", source="ui"),
    Judgement(
        "refund",
        "outcome",
        label="partial",
        comment="Refund started, but the promised email never went out.",
        source="ui",
    ),
    Judgement("shipping", "helpfulness", 1.0, turn=0, source="ui"),
    Judgement("shipping", "helpfulness", 0.9, turn=1, source="ui"),
    Judgement("shipping", "resolution", label="resolved", source="ui"),
    Judgement(
        "shipping",
        "outcome",
        label="unknown",
        comment="The customer left after the price: no telling whether they ordered.",
        source="ui",
    ),
    Judgement(
        "declined",
        "resolution",
        label="escalated",
        comment="Card declined (code 51): a person should offer another way to pay.",
        source="ui",
    ),
    Judgement("declined", "outcome", label="failure", source="ui"),
]
ENDED_BY_THE_SHOP = "checkout"


def configs() -> dict[str, ScoreConfig]:
    """The demo's configs as the server reads them, the built-in outcome among them."""
    return {
        **{config["name"]: judged.to_config(config) for config in CONFIGS},
        **BUILT_IN_CONFIGS,
    }


def _score_id(session: DemoSession, judgement: Judgement) -> str:
    where = f"{session.session_id}/{judgement.turn}/{judgement.name}/{judgement.source}"
    return hashlib.sha256(where.encode()).hexdigest()[:32]


def score_json(session: DemoSession, judgement: Judgement) -> dict[str, Any]:
    """A judgement as ``POST /api/v1/scores`` takes it."""
    item: dict[str, Any] = {
        "score_id": _score_id(session, judgement),
        "name": judgement.name,
        "source": judgement.source,
    }
    if judgement.turn is None:
        item["session_id"] = session.session_id
    else:
        item["trace_id"] = session.trace_ids()[judgement.turn]
    if judgement.label is not None:
        item["label"] = judgement.label
    else:
        item["value"] = judgement.value
    if judgement.comment:
        item["comment"] = judgement.comment
    return item


def review_line(
    session: DemoSession, judgement: Judgement, now_ns: int, source: str = "ui"
) -> dict[str, Any]:
    """A reviewer's judgement as an export's score line: its value from the config,
    given half an hour after the session's last span (never in the future)."""
    item = score_json(session, judgement)
    value, label = judged.judge(
        configs().get(judgement.name), judgement.name, item.pop("value", None), item.get("label")
    )
    last_end = max(span.end_time_unix_nano for spans in session.traces for span in spans)
    return {
        "kind": "score",
        **item,
        "value": value,
        "label": label,
        "source": source,
        "author": REVIEWER,
        "created_ns": min(last_end + REVIEW_DELAY_NS, now_ns),
    }


def send_scores(
    client: httpx.Client,
    sessions: list[DemoSession],
    now_ns: int,
    admin: tuple[str, str] | None = None,
) -> int:
    """Send the configs, scores and the shop's session end through ``client`` (its base
    URL the server, its headers the key); the reviewer's with ``admin`` (the admin
    token and the key's project name) when given. Returns the number of scores sent."""
    by_story: Mapping[str, DemoSession] = {session.story: session for session in sessions}
    for config in CONFIGS:
        _check(client.post("/api/v1/score-configs", json=config))
    batch = [score_json(by_story[j.story], j) for j in SENT]
    _check(client.post("/api/v1/scores", json={"scores": batch}))
    ended = by_story[ENDED_BY_THE_SHOP].session_id
    _check(client.post(f"/api/v1/sessions/{ended}/end", json={}))
    source = "ui" if admin is not None else "api"
    lines = [review_line(by_story[j.story], j, now_ns, source) for j in REVIEWED]
    body = b"\n".join(orjson.dumps(line) for line in lines)
    headers = {"Content-Type": "application/x-ndjson"}
    params = {}
    if admin is not None:
        headers["Authorization"] = f"Bearer {admin[0]}"
        params["project"] = admin[1]
    _check(client.post("/api/v1/import", content=body, headers=headers, params=params))
    return len(batch) + len(lines)


def _check(response: httpx.Response) -> None:
    if response.status_code not in (200, 201):
        raise RuntimeError(
            f"The server refused the demo's scores ({response.request.url.path}): "
            f"{response.status_code} {response.text[:200]}"
        )
