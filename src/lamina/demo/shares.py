"""The demo's share link: the refund conversation, shared for 30 days as a reviewer
shares it from the session page (``POST /api/v1/sessions/{id}/share``), so the
Settings page lists one live link. A session with a live link already is not shared
again, so sending the demo twice still lists one."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from lamina.demo.spans import DemoSession

SHARED_STORY = "refund"
DAYS = 30


def send_share(client: httpx.Client, sessions: list[DemoSession]) -> bool:
    """Share the refund conversation through ``client`` (its base URL the server, its
    headers the key), unless it has a live link; whether a link was made."""
    session_id = next(s.session_id for s in sessions if s.story == SHARED_STORY)
    live = client.get("/api/v1/shares")
    _check(live)
    if any(item["object_id"] == session_id for item in live.json()["items"]):
        return False
    path = f"/api/v1/sessions/{quote(session_id, safe='')}/share"
    _check(client.post(path, json={"expires_in_days": DAYS}))
    return True


def _check(response: httpx.Response) -> None:
    if response.status_code not in (200, 201):
        raise RuntimeError(
            f"The server refused the demo's share link ({response.request.url.path}): "
            f"{response.status_code} {response.text[:200]}"
        )
