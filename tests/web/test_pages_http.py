"""The pages over plain HTTP: headers, odd ids, paging, export, fragments."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest

from lamina.web.pages.session import LOAD_SPANS
from tests.support import otlp
from tests.web.conftest import PASSWORD, Seeded, send_turns

SECOND = 1_000_000_000
FULL_TIME = re.compile(r'<time datetime="([^"]+)" title="([^"]+)" data-fmt="full">([^<]+)<')


@pytest.fixture(scope="module")
def client(web: Seeded) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=30) as signed_in:
        form = signed_in.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        answer = signed_in.post(
            "/signin", data={"email": web.email, "password": PASSWORD, "csrf": token[1]}
        )
        assert answer.status_code == 303
        yield signed_in


def test_pages_are_locked_down(client: httpx.Client, web: Seeded) -> None:
    page = client.get("/p/default/traces")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert re.fullmatch(r"app;dur=[\d.]+", page.headers["server-timing"])
    anonymous = httpx.get(f"{web.url}/p/default/traces", timeout=10)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin")
    fragment = httpx.get(
        f"{web.url}/p/default/traces?fragment=rows",
        headers={"X-Lamina-Fragment": "1"},
        timeout=10,
    )
    assert fragment.status_code == 401
    assert safe_redirect(client, "https://evil.example/") == "/"
    assert safe_redirect(client, "//evil.example/") == "/"
    assert safe_redirect(client, "/p/default/settings") == "/p/default/settings"


def safe_redirect(client: httpx.Client, target: str) -> str:
    answer = client.get("/signin", params={"next": target})  # already signed in
    assert answer.status_code == 303
    return answer.headers["location"]


def test_odd_session_ids_and_project_names(client: httpx.Client, web: Seeded) -> None:
    session = "team a/conv ü #1?x=<b>"
    send_turns(web.server, session, [("odd id", "fine")], key=web.key)  # the module's project
    web.server.wait_for(
        "/api/v1/sessions",
        lambda page: session in {s["session_id"] for s in page["items"]},
        key=web.key,
    )
    project = f"/p/{web.project}"
    page = client.get(f"{project}/sessions/{quote(session, safe='')}")
    assert page.status_code == 200, page.text
    assert "team a/conv ü #1?x=&lt;b&gt;" in page.text
    assert "<b>" not in page.text
    rows = client.get(f"{project}/traces", params={"tab": "sessions", "fragment": "rows"})
    assert f"{project}/sessions/{quote(session, safe='')}?fragment=traces" in rows.text.replace(
        "&amp;", "&"
    )
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/p/default/settings").text)
    assert token is not None
    created = client.post(
        "/p/default/settings/projects", data={"name": "Team Ä/β", "csrf": token[1]}
    )
    assert created.status_code == 200
    link = re.search(
        r'<a href="(/p/[^"]+)/settings" aria-current="true">Team Ä/β</a>', created.text
    )
    assert link is not None, "the project switcher links the new project"
    assert client.get(f"{link[1]}/traces").status_code == 200  # by its id (a slash in its name)
    missing = client.get("/p/no-such-project/traces")
    assert missing.status_code == 404
    assert "There is no project" in missing.text and "no-such-project" in missing.text


def test_keyset_pages_and_json_twin(client: httpx.Client, web: Seeded) -> None:
    session = f"long-{web.word}"
    turns = [(f"q{i}", f"a{i}") for i in range(53)]
    trace_ids = send_turns(web.server, session, turns, remember=False)
    first = client.get("/p/default/traces", params={"session_id": session, "fragment": "rows"})
    ids = re.findall(r'<tr class="trow" data-id="([0-9a-f]{32})"', first.text)
    assert len(ids) == 50
    cursor = re.search(r'data-next="([^"]+)"', first.text)
    assert cursor is not None
    second = client.get(
        "/p/default/traces",
        params={"session_id": session, "fragment": "rows", "cursor": cursor[1]},
    )
    more = re.findall(r'<tr class="trow" data-id="([0-9a-f]{32})"', second.text)
    assert sorted(ids + more) == sorted(trace_ids)
    twin = client.get(
        "/api/v1/traces", params={"project": "default", "session_id": session, "limit": 50}
    ).json()
    assert [t["trace_id"] for t in twin["items"]] == ids  # the page lists what the API does

    page = client.get(f"/p/default/sessions/{session}")
    assert page.text.count('<article class="turn') == 53
    exported = client.get(f"/p/default/sessions/{session}", params={"export": "json"})
    assert "attachment" in exported.headers["content-disposition"]
    body = exported.json()
    assert body["session_id"] == session and len(body["traces"]) == 53
    assert all(len(t["spans"]) == 3 for t in body["traces"])


def test_lazy_turn_and_span_fragments(client: httpx.Client, web: Seeded) -> None:
    trace_id = web.chat_traces[0]
    path = f"/p/{web.project}/traces/{trace_id}"
    turn = client.get(path, params={"fragment": "turn", "n": "1"})
    assert turn.status_code == 200
    assert turn.text.lstrip().startswith("<article")
    assert "I was charged twice for order 991." in turn.text
    api = client.get(f"/api/v1/traces/{trace_id}", params={"project": web.project}).json()
    llm = next(s for s in api["spans"] if s["name"] == "openai.chat")
    span = client.get(path, params={"fragment": "span", "span": llm["span_id"]})
    assert "gpt-4o-mini" in span.text and "I have refunded the duplicate charge." in span.text
    missing = client.get(path, params={"fragment": "span", "span": "0"})
    assert missing.status_code == 404


def test_times_in_the_viewers_zone_with_utc_on_hover(client: httpx.Client, web: Seeded) -> None:
    path = f"/p/{web.project}/traces/{web.chat_traces[0]}"
    for zone, cookie in (("UTC", ""), ("Asia/Kolkata", "Asia%2FKolkata"), ("UTC", "America")):
        client.cookies.set("lamina_tz", cookie)
        html = client.get(path).text
        found = FULL_TIME.search(html)
        assert found is not None
        moment = datetime.fromisoformat(found[1].replace("Z", "+00:00"))
        local = moment.astimezone(ZoneInfo(zone))
        assert found[3] == local.strftime("%Y-%m-%d %H:%M:%S")
        assert found[2] == moment.strftime("%Y-%m-%d %H:%M:%S.") + found[2][20:23] + " UTC"
    client.cookies.delete("lamina_tz")


def _whole_second_ago(seconds: int) -> int:
    """A time ``seconds`` ago on a whole second (its ISO text has no fraction)."""
    return (time.time_ns() // SECOND - seconds) * SECOND


def test_a_span_on_a_whole_second_is_shown_before_a_later_sibling(
    client: httpx.Client, web: Seeded
) -> None:
    # As ISO text, 12:00:00Z sorts after 12:00:00.500000Z; as a time it is earlier.
    trace = otlp.new_trace_id()
    start = _whole_second_ago(30)
    root = otlp.span(trace, "root", start_ns=start, duration_ms=2000)
    first = otlp.span(trace, "first", parent=root.span_id, start_ns=start, duration_ms=100)
    later = otlp.span(trace, "later", parent=root.span_id, start_ns=start + 500 * otlp.MS)
    sent = otlp.post(web.url, web.server.api_key, otlp.export([later, first, root]))
    assert sent.status_code == 200, sent.text
    web.server.wait_for(f"/api/v1/traces/{trace.hex()}", lambda t: t["span_count"] == 3)
    page = client.get(f"/p/default/traces/{trace.hex()}")
    shown = re.findall(r'role="treeitem" id="row-([0-9a-f]{16})"', page.text)
    assert shown == [root.span_id.hex(), first.span_id.hex(), later.span_id.hex()]


def test_idle_time_is_counted_from_the_latest_end_so_far(client: httpx.Client, web: Seeded) -> None:
    # Turn a ends on a whole second, turn b (overlapping it) half a second later: the
    # 59.7 s before turn c are not idle; the 4 minutes before turn d are.
    session = otlp.uid("idle")
    start = _whole_second_ago(600)
    turns = [("a", start - 10 * SECOND, 10_000), ("b", start - 5 * SECOND, 5_500)]
    turns += [("c", start + 60_200 * otlp.MS, 1000), ("d", start + 300 * SECOND, 1000)]
    spans = [
        otlp.span(otlp.new_trace_id(), name, start_ns=at, duration_ms=ms,
                  attributes={"session.id": session})
        for name, at, ms in turns
    ]  # fmt: skip
    sent = otlp.post(web.url, web.server.api_key, otlp.export(spans))
    assert sent.status_code == 200, sent.text
    web.server.wait_for(f"/api/v1/sessions/{session}", lambda s: s["trace_count"] == 4)
    page = client.get(f"/p/default/sessions/{session}")
    assert re.findall(r'<div class="gap" role="separator"><span>([^<]+)</span>', page.text) == [
        "4 min idle"
    ]


def test_the_api_and_the_download_write_times_as_iso_text_with_z(
    client: httpx.Client, web: Seeded
) -> None:
    session = otlp.uid("iso")
    trace = otlp.new_trace_id()
    start = _whole_second_ago(20)
    root = otlp.span(
        trace, "root", start_ns=start, duration_ms=1500.25, attributes={"session.id": session}
    )
    child = otlp.span(
        trace, "child", parent=root.span_id, start_ns=start + 123_456_789, duration_ms=1,
        events=[("note", start + 250 * otlp.MS, {})],
    )  # fmt: skip
    sent = otlp.post(web.url, web.server.api_key, otlp.export([root, child]))
    assert sent.status_code == 200, sent.text
    web.server.wait_for(f"/api/v1/sessions/{session}", lambda s: s["trace_count"] == 1)
    at = datetime.fromtimestamp(start // SECOND, UTC)

    def text(moment: datetime) -> str:  # as docs/api.md shows: microseconds unless 0
        fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"

    expected = [
        f'"start_time":"{text(at)}"',
        f'"end_time":"{text(at + timedelta(microseconds=1_500_250))}"',
        f'"start_time":"{text(at + timedelta(microseconds=123_456))}"',  # cut from ns
        f'"time":"{text(at + timedelta(milliseconds=250))}"',
    ]
    api = client.get(f"/api/v1/traces/{trace.hex()}", params={"project": "default"}).text
    assert all(written in api for written in expected), api
    download = client.get(f"/p/default/sessions/{session}", params={"export": "json"}).text
    assert all(written.replace(":", ": ", 1) in download for written in expected), download


def _whole_and_lazy(html: str) -> tuple[int, list[str]]:
    """How many turns the session page shows whole, and the ids of those it will load."""
    turns = re.findall(r'<article class="turn([^"]*)" id="turn-([0-9a-f]{32})"', html)
    return sum("turn-preview" not in classes for classes, _ in turns), [
        trace_id for classes, trace_id in turns if "turn-preview" in classes
    ]


def test_the_session_page_shows_its_turns_whole(client: httpx.Client, web: Seeded) -> None:
    session = otlp.uid("whole")
    send_turns(web.server, session, [(f"q{n}", f"a{n}") for n in range(60)], remember=False)
    web.server.wait_for(f"/api/v1/sessions/{session}", lambda s: s["trace_count"] == 60)
    page = client.get(f"/p/default/sessions/{session}")
    assert _whole_and_lazy(page.text) == (60, [])
    assert all(f"a{n}</" in page.text for n in range(60))


def test_turns_past_the_spans_a_page_reads_come_lazily(client: httpx.Client, web: Seeded) -> None:
    session = otlp.uid("lazy")
    start = time.time_ns() - 60 * SECOND
    spans, trace_ids = [], []
    for turn in range(2):  # two turns of more than half of LOAD_SPANS spans each
        trace = otlp.new_trace_id()
        root = otlp.span(
            trace, f"turn-{turn}", start_ns=start + turn * SECOND,
            attributes={"session.id": session, "output.value": f"reply {turn}"},
        )  # fmt: skip
        spans += [root] + [
            otlp.span(trace, "step", parent=root.span_id, start_ns=start + turn * SECOND)
            for _ in range(LOAD_SPANS // 2)
        ]
        trace_ids.append(trace.hex())
    sent = otlp.post(web.url, web.server.api_key, otlp.export(spans))
    assert sent.status_code == 200, sent.text
    web.server.wait_for(f"/api/v1/sessions/{session}", lambda s: s["trace_count"] == 2)
    page = client.get(f"/p/default/sessions/{session}")
    assert _whole_and_lazy(page.text) == (1, [trace_ids[1]])
    lazy = client.get(f"/p/default/traces/{trace_ids[1]}", params={"fragment": "turn", "n": "2"})
    assert "reply 1" in lazy.text and "turn-preview" not in lazy.text
