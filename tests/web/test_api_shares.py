"""Share links through the JSON API (#19), on a real server and both stores: a link made
for a session or a trace opens that one object, read-only, with no cookie and no way out
of the share; lists never show a token; a revoked, expired or unknown link is the same
plain 404; deleting the session deletes its links.

Each test makes a project of its own (with the admin token, over HTTP) on the shared
server, so the tests do not see each other's data.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import LaminaServer
from tests.support import otlp
from tests.web.test_api_scores import Project, new_project

pytestmark = pytest.mark.both_stores  # tests/conftest.py

SECRET_ATTRIBUTE = "attr-secret-4f1c"
SHARE_HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-robots-tag": "noindex",
}


@pytest.fixture
def project(server: LaminaServer) -> Project:
    return new_project(server)


def send(project: Project, session_id: str, turns: int) -> list[str]:
    """``turns`` traces of the session, each root span with a secret attribute."""
    spans = []
    for turn in range(turns):
        spans += otlp.conversation_turn(
            session_id,
            turn,
            start_ns=time.time_ns(),
            extra_root={"internal.note": SECRET_ATTRIBUTE},
        )
    response = otlp.post(project.server.url, project.key, otlp.export(spans))
    assert response.status_code == 200, response.text
    project.wait_session(session_id, turns)
    return [s.trace_id.hex() for s in spans if not s.parent_span_id]


def visit(url: str) -> httpx.Response:
    """A stranger's visit: no cookie, no key."""
    return httpx.get(url, timeout=30, follow_redirects=False)


def links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]*)"', html))


def gone(project: Project) -> httpx.Response:
    """What an address with nothing at it answers."""
    return visit(project.server.url + "/share/" + "x" * 43)


def test_a_session_link_opens_its_transcript_and_traces_and_nothing_else(project: Project) -> None:
    session_id = otlp.uid("shared")
    traces = send(project, session_id, 2)
    other = send(project, otlp.uid("private"), 1)
    made = project.ok("POST", f"/api/v1/sessions/{session_id}/share", 201, json={})
    assert made["url"] == f"{project.server.url}/share/{made['token']}"
    assert len(made["token"]) >= 43  # 32 random bytes
    expires = datetime.fromisoformat(made["expires_at"])
    assert abs(expires - datetime.now(UTC) - timedelta(days=7)) < timedelta(minutes=1)
    assert made["share"]["object"] == "session" and made["share"]["object_id"] == session_id
    assert made["share"]["author"] == "feedback-bot"

    page = visit(made["url"])
    assert page.status_code == 200, page.text
    assert {k: page.headers[k] for k in SHARE_HEADERS} == SHARE_HEADERS
    assert "set-cookie" not in page.headers
    assert session_id in page.text and "question 0" in page.text and "answer 1" in page.text
    base = f"/share/{made['token']}"
    for href in links(page.text):  # within the share, or the page's own parts
        assert href.startswith((base + "/traces/", "#", "/static/")), href
    assert SECRET_ATTRIBUTE not in page.text  # the transcript shows no attributes anyway

    for trace_id in traces:  # its traces, through the share; their span detail too
        seen = visit(f"{project.server.url}{base}/traces/{trace_id}")
        assert seen.status_code == 200 and trace_id in seen.text
        assert SECRET_ATTRIBUTE in seen.text  # not redacted
        for href in links(seen.text):
            assert href.startswith((base, "#", "/static/")), href
        span = visit(f"{project.server.url}{base}/traces/{trace_id}?fragment=span")
        assert span.status_code == 200 and 'class="detail"' in span.text
        turn = visit(f"{project.server.url}{base}/traces/{trace_id}?fragment=turn&n=1")
        assert turn.status_code == 200 and f'id="turn-{trace_id}"' in turn.text
        for href in links(turn.text):  # a lazy turn's links stay inside the share too
            assert href.startswith(base + "/traces/"), href
    for trace_id in [*other, "0" * 32]:  # another session's trace is not there
        missing = visit(f"{project.server.url}{base}/traces/{trace_id}")
        assert missing.status_code == 404 and missing.text == gone(project).text

    listed = project.ok("GET", "/api/v1/shares")["items"]
    assert [item["id"] for item in listed] == [made["share"]["id"]]
    assert made["token"] not in str(listed)
    revoked = project.ok("DELETE", f"/api/v1/shares/{made['token']}")["deleted"]
    assert revoked["id"] == made["share"]["id"]
    after = visit(made["url"])
    assert after.status_code == 404 and after.text == gone(project).text
    assert {k: after.headers[k] for k in SHARE_HEADERS} == SHARE_HEADERS
    assert visit(f"{project.server.url}{base}/traces/{traces[0]}").status_code == 404
    assert project.ok("GET", "/api/v1/shares")["items"] == []
    assert project.call("DELETE", f"/api/v1/shares/{made['token']}").status_code == 404


def test_a_trace_link_opens_that_trace_only_and_can_hide_its_attributes(project: Project) -> None:
    session_id = otlp.uid("traced")
    first, second = send(project, session_id, 2)
    made = project.ok(
        "POST",
        f"/api/v1/traces/{first}/share",
        201,
        json={"expires_in_days": 30, "redact_attributes": True},
    )
    expires = datetime.fromisoformat(made["expires_at"])
    assert abs(expires - datetime.now(UTC) - timedelta(days=30)) < timedelta(minutes=1)
    page = visit(made["url"])
    assert page.status_code == 200 and first in page.text and "handle_turn" in page.text
    assert SECRET_ATTRIBUTE not in page.text and "attributes hidden" in page.text
    base = f"/share/{made['token']}"
    for href in links(page.text):
        assert href.startswith((base, "#", "/static/")), href
    assert visit(f"{project.server.url}{base}/traces/{first}").status_code == 200
    sibling = visit(f"{project.server.url}{base}/traces/{second}")  # same session, not shared
    assert sibling.status_code == 404 and sibling.text == gone(project).text
    llm = project.ok("GET", f"/api/v1/traces/{first}")["spans"]
    for span in llm:
        detail = visit(
            f"{project.server.url}{base}/traces/{first}?fragment=span&span={span['span_id']}"
        )
        assert detail.status_code == 200 and SECRET_ATTRIBUTE not in detail.text
        assert "gen_ai.system" not in detail.text


def test_what_a_link_may_be_made_for(project: Project) -> None:
    session_id = otlp.uid("limits")
    (trace_id,) = send(project, session_id, 1)
    path = f"/api/v1/sessions/{session_id}/share"
    for body, words in [
        ({"expires_in_days": 0}, "from 1 to 365"),
        ({"expires_in_days": 366}, "from 1 to 365"),
        ({"expires_in_days": "7"}, "expires_in_days must be"),
        ({"expires_in_days": True}, "expires_in_days must be"),
        ({"redact_attributes": "yes"}, "redact_attributes must be"),
        ({"expiry": 3}, "Unknown field"),
    ]:
        refused = project.call("POST", path, json=body)
        assert refused.status_code == 400, body
        assert words in refused.json()["error"]["message"], refused.text
    assert project.call("POST", "/api/v1/sessions/no-such/share", json={}).status_code == 404
    assert project.call("POST", f"/api/v1/traces/{'0' * 32}/share", json={}).status_code == 404
    longest = project.ok("POST", path, 201, json={"expires_in_days": 365})
    assert datetime.fromisoformat(longest["expires_at"]) > datetime.now(UTC) + timedelta(days=364)
    assert project.ok("POST", f"/api/v1/traces/{trace_id.upper()}/share", 201, json={})


def test_deleting_the_session_or_revoking_by_id_ends_its_links(project: Project) -> None:
    kept, doomed = otlp.uid("kept"), otlp.uid("doomed")
    send(project, kept, 1)
    (doomed_trace,) = send(project, doomed, 1)
    by_id = project.ok("POST", f"/api/v1/sessions/{kept}/share", 201, json={})
    on_session = project.ok("POST", f"/api/v1/sessions/{doomed}/share", 201, json={})
    on_trace = project.ok("POST", f"/api/v1/traces/{doomed_trace}/share", 201, json={})
    assert visit(on_trace["url"]).status_code == 200
    project.ok("DELETE", f"/api/v1/sessions/{doomed}")
    for made in (on_session, on_trace):
        assert visit(made["url"]).status_code == 404
    assert [item["id"] for item in project.ok("GET", "/api/v1/shares")["items"]] == [
        by_id["share"]["id"]
    ]
    project.ok("DELETE", f"/api/v1/shares/{by_id['share']['id']}")
    assert visit(by_id["url"]).status_code == 404
    assert project.ok("GET", "/api/v1/shares")["items"] == []


def test_a_long_value_cut_on_a_shared_page_opens_whole_inside_the_share(project: Project) -> None:
    session_id = otlp.uid("long")
    answer, note = "a" * 70_000 + "THE END", "n" * 70_000  # past a trace's 65,536 characters
    spans = otlp.conversation_turn(
        session_id, 0, start_ns=time.time_ns(), extra_root={"output.value": answer, "note": note}
    )
    assert otlp.post(project.server.url, project.key, otlp.export(spans)).status_code == 200
    project.wait_session(session_id, 1)
    trace_id, root = spans[0].trace_id.hex(), spans[0].span_id.hex()
    for redact in (False, True):
        made = project.ok(
            "POST", f"/api/v1/traces/{trace_id}/share", 201, json={"redact_attributes": redact}
        )
        base = f"/share/{made['token']}/traces/{trace_id}/spans/{root}"
        page = visit(made["url"])
        assert page.status_code == 200 and "THE END" not in page.text  # cut
        assert f'href="{base}/output"' in page.text
        assert (f'href="{base}/attributes"' in page.text) is not redact
        whole = visit(project.server.url + base + "/output")
        assert whole.status_code == 200 and whole.json()["value"] == answer
        assert {k: whole.headers[k] for k in SHARE_HEADERS} == SHARE_HEADERS
        attributes = visit(project.server.url + base + "/attributes")
        if redact:
            assert attributes.status_code == 404 and attributes.text == gone(project).text
        else:
            assert attributes.json()["value"]["note"] == note
        elsewhere = f"/share/{made['token']}/traces/{'0' * 32}/spans/{root}/output"
        assert visit(project.server.url + elsewhere).status_code == 404


def test_a_long_session_pages_its_turns_inside_the_share(project: Project) -> None:
    session_id = otlp.uid("many")
    traces = send(project, session_id, 102)
    made = project.ok("POST", f"/api/v1/sessions/{session_id}/share", 201, json={})
    base = f"/share/{made['token']}"
    first = visit(made["url"])
    assert first.status_code == 200 and first.text.count('<article class="turn') == 100
    assert f'href="{base}?from=100"' in first.text and "Show turns 101–102" in first.text
    rest = visit(f"{made['url']}?from=100")
    assert rest.text.count('<article class="turn') == 2
    assert f'id="turn-{traces[101]}"' in rest.text and f'href="{base}?from=0"' in rest.text
    for href in links(first.text) | links(rest.text):
        assert href.startswith((base + "/traces/", base + "?from=", "#", "/static/")), href
    odd = visit(f"{made['url']}?from=later")  # not a number: the first turns
    assert odd.status_code == 200 and odd.text.count('<article class="turn') == 100
