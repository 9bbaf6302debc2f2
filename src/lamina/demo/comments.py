"""The demo's comments and its star.

- the reviewer's comments (``REVIEWER`` of lamina.demo.scores) on the sessions she
  reviewed: on the refund conversation, on a turn of the declined checkout and on its
  failing span, as the pages record them (her name, half an hour after the session).
  They go as an export's comment lines (``POST /api/v1/import``) with the admin
  token, which keeps a comment's author and time; sent with a key alone (``lamina demo
  --url --key``) they are the key's. Each has a fixed id, so sending the demo again
  adds none twice;
- a star on the declined checkout: stars are a signed-in user's, and the demo's data
  comes before anyone signs in, so ``lamina serve --demo`` stars it for the users the
  data dir has when the demo loads, and remembers it (the ``demo_star`` setting) for
  each user made later (lamina.operations.Operations.create_user: the setup link's
  first administrator, ``lamina users create``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from lamina.demo.scores import REVIEW_DELAY_NS, REVIEWER
from lamina.demo.spans import DemoSession
from lamina.store.base import Store
from lamina.store.comments import StarKind

STARRED_STORY = "declined"
STAR_SETTING = "demo_star"
# (story, turn or None for the session, on the failing span, text)
NOTES = [
    (
        "refund",
        None,
        False,
        "Good save: the duplicate charge was refunded in the second turn. Policy for "
        "the record: https://example.com/help/refunds",
    ),
    (
        "declined",
        -1,
        False,
        "The card was declined twice; the bot should offer another way to pay.",
    ),
    ("declined", -1, True, "Declined by the issuer (code 51): retrying the same card won't help."),
]


def comment_lines(sessions: list[DemoSession], now_ns: int) -> list[dict[str, Any]]:
    """The reviewer's comments as an export's comment lines."""
    by_story: Mapping[str, DemoSession] = {session.story: session for session in sessions}
    lines = []
    for story, turn, on_span, body in NOTES:
        session = by_story[story]
        last_end = max(span.end_time_unix_nano for spans in session.traces for span in spans)
        line: dict[str, Any] = {
            "kind": "comment",
            "comment_id": hashlib.sha256(
                f"demo-comment {story} {turn} {on_span}".encode()
            ).hexdigest()[:32],
            "session_id": session.session_id if turn is None else None,
            "trace_id": None,
            "span_id": None,
            "body": body,
            "author": REVIEWER,
            "created_ns": min(last_end + REVIEW_DELAY_NS, now_ns),
        }
        if turn is not None:
            spans = session.traces[turn]
            line["trace_id"] = spans[0].trace_id.hex()
            if on_span:
                failed = [span for span in spans if span.status.code == Status.STATUS_CODE_ERROR]
                line["span_id"] = (failed or spans)[-1].span_id.hex()
        lines.append(line)
    return lines


def send_comments(
    client: httpx.Client,
    sessions: list[DemoSession],
    now_ns: int,
    admin: tuple[str, str] | None = None,
) -> int:
    """Send the reviewer's comments through ``client`` (its base URL the server, its
    headers the key), with ``admin`` (the admin token and the key's project name) as
    hers; how many the project has of them."""
    body = b"\n".join(orjson.dumps(line) for line in comment_lines(sessions, now_ns))
    headers = {"Content-Type": "application/x-ndjson"}
    params = {}
    if admin is not None:
        headers["Authorization"] = f"Bearer {admin[0]}"
        params["project"] = admin[1]
    response = client.post("/api/v1/import", content=body, headers=headers, params=params)
    if response.status_code != 200:
        raise RuntimeError(
            f"The server refused the demo's comments: {response.status_code} {response.text[:200]}"
        )
    count: int = response.json()["comments"]
    return count


def remember_star(store: Store, project_id: str, sessions: list[DemoSession]) -> None:
    """Star the declined checkout for every user the data dir has, and for those to
    come from the setup link (see :func:`star_for`)."""
    session_id = next(s.session_id for s in sessions if s.story == STARRED_STORY)
    store.set_setting(STAR_SETTING, orjson.dumps([project_id, session_id]).decode())
    for user in store.list_users():
        star_for(store, user.id)


def star_for(store: Store, user_id: str) -> None:
    """Give a user the demo's star, if the demo was loaded here (and its session is)."""
    remembered = store.get_setting(STAR_SETTING)
    if remembered is None:
        return
    project_id, session_id = orjson.loads(remembered)
    store.star(project_id, user_id, StarKind.SESSION, session_id, True)
