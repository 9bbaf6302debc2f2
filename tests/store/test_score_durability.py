"""An acknowledged score is never lost or doubled, and a deleted one never comes back.

The DuckDB store answers ``POST /api/v1/scores`` once the scores are journaled and
stores them later (lamina.store.duckdb.score_journal): clients post one score a request
while the server is killed (SIGKILL); every score that got its 201 is there once after
a restart on the same data dir, and counted once in its session's summary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from tests.conftest import LaminaServer
from tests.support import otlp

CLIENTS = 4
READS = 25  # scores each client gives and reads back
GROUP = 12  # requests sent at the same moment
ROUNDS = 3  # the same scores again (retries): stored once


def _post(client: httpx.Client, server: LaminaServer, body: dict[str, object]) -> int:
    response = client.post(
        server.url + "/api/v1/scores",
        json=body,
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    return response.status_code


def _scores(server: LaminaServer, **params: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    cursor = None
    while True:
        more = {"cursor": cursor} if cursor else {}
        page = server.api("/api/v1/scores", limit="500", **params, **more)
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def test_sigkill_loses_and_doubles_no_acknowledged_score(
    new_server: Callable[..., LaminaServer],
) -> None:
    first = new_server()
    session = "scored-session"
    turn = otlp.conversation_turn(session, 0, start_ns=time.time_ns())
    assert otlp.post(first.url, first.api_key, otlp.export(turn)).status_code == 200
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def give(number: int) -> None:
        with httpx.Client(timeout=10) as client:
            for n in range(5_000):  # bounded; the kill ends it long before
                if stop.is_set():
                    return
                score_id = f"c{number}-{n}"
                body = {"score_id": score_id, "name": "thumbs", "value": n % 2}
                body["session_id"] = session if n % 3 == 0 else f"other-{n % 7}"
                try:
                    status = _post(client, first, body)
                except httpx.HTTPError:
                    return  # the server is gone: this score was not acknowledged
                if status != 201:
                    return
                with lock:
                    acked.append(score_id)

    threads = [threading.Thread(target=give, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 15
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(acked) >= 200, f"only {len(acked)} scores acknowledged"
    first.kill()  # while the clients are still giving scores
    stop.set()
    for thread in threads:
        thread.join(15)

    second = new_server(data_dir=first.data_dir, api_key=first.api_key)
    stored = [str(score["score_id"]) for score in _scores(second)]
    assert len(stored) == len(set(stored)), "a score was stored twice"
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged scores lost"
    # and counted once in its session's summary
    mine = _scores(second, session_id=session)
    summary = second.api(f"/api/v1/sessions/{session}")["score_summary"]
    assert summary["thumbs"]["count"] == len(mine) > 0


def test_scores_given_at_once_are_all_there_after_a_kill_right_after_their_answers(
    new_server: Callable[..., LaminaServer],
) -> None:
    """Requests arriving together are stored with one write (lamina.ingest.score_queue):
    each is acknowledged, and every one is there, once, after a SIGKILL sent as soon as
    the last answer came."""
    first = new_server()
    turn = otlp.conversation_turn("grouped", 0, start_ns=time.time_ns())
    assert otlp.post(first.url, first.api_key, otlp.export(turn)).status_code == 200
    start = threading.Barrier(GROUP)
    statuses: dict[int, int] = {}

    def give(number: int) -> None:
        with httpx.Client(timeout=10) as client:
            client.get(first.url + "/healthz")  # connected before the barrier
            start.wait(10)
            body = {"score_id": f"g{number}", "name": "thumbs", "value": 1}
            statuses[number] = _post(client, first, {**body, "session_id": "grouped"})

    for _ in range(ROUNDS):
        threads = [threading.Thread(target=give, args=(n,)) for n in range(GROUP)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
        assert statuses == dict.fromkeys(range(GROUP), 201)
    first.kill()

    second = new_server(data_dir=first.data_dir, api_key=first.api_key)
    stored = sorted(str(score["score_id"]) for score in _scores(second))
    assert stored == sorted(f"g{n}" for n in range(GROUP))
    summary = second.api("/api/v1/sessions/grouped")["score_summary"]
    assert summary["thumbs"]["count"] == GROUP


def test_a_score_deleted_before_a_kill_stays_deleted(
    new_server: Callable[..., LaminaServer],
) -> None:
    first = new_server()
    with httpx.Client(timeout=10) as client:
        body = {"name": "thumbs", "value": 1, "session_id": "kept-apart"}
        assert _post(client, first, {**body, "score_id": "deleted"}) == 201
        assert [s["score_id"] for s in _scores(first)] == ["deleted"]  # stored by the read
        response = client.delete(
            first.url + "/api/v1/scores/deleted",
            headers={"Authorization": f"Bearer {first.api_key}"},
        )
        assert response.status_code == 200, response.text
        assert _post(client, first, {**body, "score_id": "given-after"}) == 201
    first.kill()  # "given-after" journaled, not yet stored

    second = new_server(data_dir=first.data_dir, api_key=first.api_key)
    assert [s["score_id"] for s in _scores(second)] == ["given-after"]


def test_a_score_is_seen_by_every_read_after_its_answer(
    new_server: Callable[..., LaminaServer],
) -> None:
    """Clients each give a score and read it back at once, while the others' reads
    store what is journaled: every read after a 201 has its score."""
    server = new_server()
    missing: list[str] = []

    def give_and_read(number: int) -> None:
        with httpx.Client(timeout=10) as client:
            for n in range(READS):
                session = f"seen-{number}-{n}"
                body = {"name": "thumbs", "value": 1, "session_id": session}
                assert _post(client, server, body) == 201
                listed = client.get(
                    server.url + "/api/v1/scores",
                    params={"session_id": session},
                    headers={"Authorization": f"Bearer {server.api_key}"},
                )
                if not listed.json()["items"]:
                    missing.append(session)

    threads = [threading.Thread(target=give_and_read, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not missing, f"{len(missing)} of {READS * CLIENTS} reads missed the score just given"
