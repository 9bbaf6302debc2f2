"""The demo's dataset (#22): support conversations kept as test cases, made from the
demo's sessions as the pages' "Add to dataset" makes them (``POST
/api/v1/datasets/{name}/items`` with ``from_session``, ``up_to_turn`` and
``from_trace``): the whole refund conversation, the refund and shipping conversations up
to their second turn (each turn's reply expected), and the discount conversation's
first trace. Each item has a fixed id, so sending the demo again adds none twice."""

from __future__ import annotations

from typing import Any

import httpx

from lamina.demo.spans import DemoSession

NAME = "support-regressions"
DESCRIPTION = (
    "Support conversations kept as test cases: replay them against a new version of the "
    "bot and compare its replies with the expected ones."
)
# (item id, story, what: "session", a turn number, or "trace" for the first trace)
ITEMS: list[tuple[str, str, Any]] = [
    ("refund-conversation", "refund", "session"),
    ("refund-turn-2", "refund", 2),
    ("shipping-turn-2", "shipping", 2),
    ("discount-first-trace", "discount", "trace"),
]


def send_dataset(client: httpx.Client, sessions: list[DemoSession]) -> int:
    """Make the dataset and its items through ``client`` (its base URL the server, its
    headers the key); how many items were sent."""
    _check(client.post("/api/v1/datasets", json={"name": NAME, "description": DESCRIPTION}))
    by_story = {session.story: session for session in sessions}
    for item_id, story, what in ITEMS:
        session = by_story[story]
        body: dict[str, Any] = {"item_id": item_id}
        if what == "trace":
            body["from_trace"] = session.trace_ids()[0]
        else:
            body["from_session"] = session.session_id
            if what != "session":
                body["up_to_turn"] = what
        _check(client.post(f"/api/v1/datasets/{NAME}/items", json=body))
    return len(ITEMS)


def _check(response: httpx.Response) -> None:
    if response.status_code not in (200, 201):
        raise RuntimeError(
            f"The server refused the demo's dataset ({response.request.url.path}): "
            f"{response.status_code} {response.text[:200]}"
        )
