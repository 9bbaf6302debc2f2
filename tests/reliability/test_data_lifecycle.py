"""Users control their data: delete a trace, a session or a project (API and CLI),
retention, and export / import (CLI and API), on a real server with real OTLP data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from tests.conftest import LaminaServer
from tests.support import otlp
from tests.support.otlp import IN_PROCESS, MS

DAY_NS = 86_400 * 1_000_000_000


def send_session(
    server: LaminaServer, key: str, session_id: str, turns: int, start_ns: int | None = None
) -> list[str]:
    """``turns`` two-span traces in one session, one request; their trace ids."""
    start = time.time_ns() if start_ns is None else start_ns
    spans = []
    ids = []
    for turn in range(turns):
        pair = otlp.conversation_turn(session_id, turn, start_ns=start + turn * 1000 * MS)
        ids.append(pair[0].trace_id.hex())
        spans += pair
    response = otlp.post(server.url, key, otlp.export(spans))
    assert response.status_code == 200, response.text
    return ids


def delete(server: LaminaServer, path: str, key: str | None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return otlp.client().delete(server.url + path, headers=headers)


def test_delete_a_trace_through_the_api(server: LaminaServer) -> None:
    _, key = otlp.new_project(server, "del-trace")
    _, other_key = otlp.new_project(server, "del-trace-other")
    session = otlp.uid("s")
    first, doomed, last = send_session(server, key, session, 3)

    assert delete(server, f"/api/v1/traces/{doomed}", other_key).status_code == 404
    assert otlp.get(server, f"/api/v1/traces/{doomed}", key=key).status_code == 200

    answer = delete(server, f"/api/v1/traces/{doomed.upper()}", key)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"deleted": {"traces": 1, "spans": 2}}

    assert otlp.get(server, f"/api/v1/traces/{doomed}", key=key).status_code == 404
    detail = otlp.api(server, f"/api/v1/sessions/{session}", key=key)
    assert [t["trace_id"] for t in detail["traces"]] == [first, last]
    assert (detail["trace_count"], detail["span_count"], detail["input_tokens"]) == (2, 4, 2000)
    assert (detail["first_input"], detail["last_output"]) == ("question 0", "answer 2")
    listed = otlp.api(server, "/api/v1/traces", key=key, session_id=session)["items"]
    assert {t["trace_id"] for t in listed} == {first, last}
    gone = delete(server, f"/api/v1/traces/{doomed}", key)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_delete_a_session_through_the_api(server: LaminaServer) -> None:
    _, key = otlp.new_project(server, "del-session")
    session = f"team a/{otlp.uid('conv')} ü?#"
    kept = otlp.uid("kept")
    send_session(server, key, session, 3)
    kept_ids = send_session(server, key, kept, 2)
    path = f"/api/v1/sessions/{quote(session, safe='')}"

    answer = delete(server, path, key)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"deleted": {"traces": 3, "spans": 6}}

    assert otlp.get(server, path, key=key).status_code == 404
    assert delete(server, path, key).status_code == 404
    assert [s["session_id"] for s in otlp.api(server, "/api/v1/sessions", key=key)["items"]] == [
        kept
    ]
    remaining = otlp.api(server, "/api/v1/traces", key=key)["items"]
    assert sorted(t["trace_id"] for t in remaining) == sorted(kept_ids)


def test_cli_deletes_through_the_server_and_on_its_own(
    new_server: Callable[..., LaminaServer],
) -> None:
    server = new_server(*IN_PROCESS)
    name, key = otlp.new_project(server, "cli-del")
    traces = send_session(server, key, "s-cli", 2)
    send_session(server, key, "s-doomed", 2)
    send_session(server, otlp.admin(server, "create_key", project="default")["key"], "s-kept", 1)

    refused = server.cli("traces", "delete", traces[0], "--project", name, input="n\n")
    assert refused.returncode == 1 and "Aborted" in refused.stderr
    assert otlp.get(server, f"/api/v1/traces/{traces[0]}", key=key).status_code == 200

    done = server.cli("traces", "delete", traces[0], "--project", name, "--yes")
    assert done.returncode == 0, done.stderr
    assert "Deleted trace" in done.stdout and "2 spans" in done.stdout
    assert otlp.get(server, f"/api/v1/traces/{traces[0]}", key=key).status_code == 404
    missing = server.cli("traces", "delete", traces[0], "--project", name, "-y")
    assert missing.returncode == 1 and "No trace" in missing.stderr

    done = server.cli("sessions", "delete", "s-doomed", "--project", name, input="y\n")
    assert done.returncode == 0, done.stderr
    assert "2 traces, 4 spans" in done.stdout
    assert otlp.get(server, "/api/v1/sessions/s-doomed", key=key).status_code == 404

    done = server.cli("projects", "delete", name, input="y\n")
    assert done.returncode == 0, done.stderr
    assert f'Deleted project "{name}": 1 traces, 2 spans' in done.stdout
    # its keys stop working at once, for reading and for sending
    assert otlp.get(server, "/api/v1/sessions", key=key).status_code == 401
    spans = otlp.conversation_turn("s-late", 0, start_ns=time.time_ns())
    assert otlp.post(server.url, key, otlp.export(spans)).status_code == 401
    assert name not in {p["name"] for p in otlp.admin(server, "list_projects")}

    server.stop()
    # without a server the CLI opens the data dir itself
    done = server.cli("sessions", "delete", "s-kept", "-y")
    assert done.returncode == 0, done.stderr
    listed = server.cli("sessions", "list")
    assert listed.returncode == 0 and "s-kept" not in listed.stdout


def test_retention_deletes_old_traces_now_and_in_the_background(
    new_server: Callable[..., LaminaServer],
) -> None:
    server = new_server("--retention-check-seconds", "1", *IN_PROCESS)
    name, key = otlp.new_project(server, "retention")
    now = time.time_ns()
    old = send_session(server, key, "s-mixed", 2, start_ns=now - 5 * DAY_NS)
    new = send_session(server, key, "s-mixed", 1, start_ns=now - 3_600 * 1_000_000_000)
    send_session(server, key, "s-old", 2, start_ns=now - 4 * DAY_NS)

    result = server.cli("projects", "retention", name, "3")
    assert result.returncode == 0, result.stderr
    assert "keeps traces 3 days" in result.stdout and "Deleted now: 4 traces" in result.stdout
    mixed = otlp.api(server, "/api/v1/sessions/s-mixed", key=key)
    assert [t["trace_id"] for t in mixed["traces"]] == new
    assert (mixed["trace_count"], mixed["span_count"]) == (1, 2)
    assert otlp.get(server, "/api/v1/sessions/s-old", key=key).status_code == 404
    assert all(otlp.get(server, f"/api/v1/traces/{t}", key=key).status_code == 404 for t in old)
    listed = {p["name"]: p for p in otlp.admin(server, "list_projects")}
    assert listed[name]["retention_days"] == 3 and listed["default"]["retention_days"] is None

    def deleted_in_the_background(project_key: str, session_id: str) -> None:
        late = send_session(server, project_key, session_id, 1, start_ns=now - 10 * DAY_NS)
        deadline = time.monotonic() + 10
        while otlp.get(server, f"/api/v1/traces/{late[0]}", key=project_key).status_code == 200:
            assert time.monotonic() < deadline, "the retention task did not run"
            time.sleep(0.1)
        session = otlp.get(server, f"/api/v1/sessions/{session_id}", key=project_key)
        assert session.status_code == 404

    # traces that arrive old are deleted by the server on its own
    deleted_in_the_background(key, "s-late")
    assert otlp.api(server, "/api/v1/sessions/s-mixed", key=key)["trace_count"] == 1

    off = server.cli("projects", "retention", name, "0")
    assert off.returncode == 0 and "for ever" in off.stdout
    kept = send_session(server, key, "s-kept", 1, start_ns=now - 10 * DAY_NS)
    # Another project with retention sees two old traces deleted, one after the other:
    # the pass that deleted the second began after the first was deleted, so after
    # `kept` arrived, and it went over every project.
    other, other_key = otlp.new_project(server, "retention-witness")
    assert server.cli("projects", "retention", other, "3").returncode == 0
    deleted_in_the_background(other_key, "s-first")
    deleted_in_the_background(other_key, "s-second")
    assert otlp.get(server, f"/api/v1/traces/{kept[0]}", key=key).status_code == 200
    bad = server.cli("projects", "retention", name, "-1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


# -- export and import -------------------------------------------------------------------------


def send_varied(server: LaminaServer, key: str) -> None:
    """Sessions, traces without a session, errors, events, tags, metadata, odd text."""
    start = time.time_ns() - 60 * 1_000_000_000
    spans = []
    for n in range(3):
        spans += otlp.conversation_turn(
            "s-varied/1",
            n,
            start_ns=start + n * 2000 * MS,
            user_id=f"u-{n % 2}",
            extra_root={"tag.tags": ["a", "b"], "metadata": '{"env": "prod", "n": "1"}'},
            error="boom" if n == 1 else None,
        )
    trace = otlp.new_trace_id()
    root = otlp.span(
        trace,
        "no-session ü \u2028 <b>",
        start_ns=start + 123_456_789,
        attributes={"input.value": '{"q": "x\\ny"}', "deep": {"a": [1, 2.5, True, "x"]}},
        events=[("exception", start + 123_456_999, {"exception.message": "bad"})],
    )
    spans += [root, otlp.span(trace, "child", parent=root.span_id, start_ns=start + 200 * MS)]
    spans += otlp.conversation_turn("s-varied-2", 0, start_ns=start + 10 * MS, user_id="u-9")
    request = otlp.export(spans, resource={"service.name": "svc", "host.name": "h1"})
    assert otlp.post(server.url, key, request).status_code == 200


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_export_and_import_round_trip(
    new_server: Callable[..., LaminaServer], tmp_path: Path
) -> None:
    server = new_server(*IN_PROCESS)
    name, key = otlp.new_project(server, "source")
    send_varied(server, key)
    original = tmp_path / "original.jsonl"
    parquet = tmp_path / "parquet"

    done = server.cli("export", "--project", name, "--output", str(original))
    assert done.returncode == 0, done.stderr
    assert "Exported 2 sessions, 5 traces and 10 spans" in done.stderr
    assert "spans" in done.stderr and "10/10" in done.stderr  # the progress bar
    lines = _lines(original)
    assert lines[0]["lamina_export"] == 1 and lines[0]["project"] == name
    kinds = [line["kind"] for line in lines[1:]]
    assert kinds == ["session"] * 2 + ["trace"] * 5 + ["span"] * 10 + ["trailer"]
    assert lines[-1] == {
        "kind": "trailer",
        "sessions": 2,
        "traces": 5,
        "spans": 10,
        "scores": 0,
        "comments": 0,
        "datasets": 0,
        "dataset_items": 0,
        "experiments": 0,
        "experiment_items": 0,
    }
    span = next(
        line
        for line in lines[1:]
        if line["kind"] == "span" and line["name"].startswith("no-session")
    )
    assert span["attributes"]["deep"] == {"a": [1, 2.5, True, "x"]}
    assert span["events"][0]["time_ns"] == span["start_ns"] + 210  # exact, not rounded to µs
    done = server.cli("export", "--project", name, "--format", "parquet", "-o", str(parquet))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in parquet.iterdir()) == [
        "comments.parquet",
        "scores.parquet",
        "sessions.parquet",
        "spans.parquet",
        "traces.parquet",
    ]

    # import through the running server: from JSONL and from Parquet
    for source, target in ((original, "from-jsonl"), (parquet, "from-parquet")):
        done = server.cli("import", str(source), "--project", target)
        assert done.returncode == 0, done.stderr
        assert f'Imported 10 spans into project "{target}"' in done.stdout

    server.stop()
    # and without a server: import, then export everything again from the data dir
    done = server.cli("import", str(original), "--project", "offline")
    assert done.returncode == 0, done.stderr
    for target in ("from-jsonl", "from-parquet", "offline"):
        again = tmp_path / f"{target}.jsonl"
        done = server.cli("export", "--project", target, "-o", str(again))
        assert done.returncode == 0, done.stderr
        assert _lines(again)[1:] == lines[1:], target


def test_api_export_of_a_session_matches_the_cli(server: LaminaServer, tmp_path: Path) -> None:
    name, key = otlp.new_project(server, "api-export")
    _, other_key = otlp.new_project(server, "api-export-other")
    send_session(server, key, "s/one", 3)
    send_session(server, key, "s-two", 1)

    answer = otlp.get(server, "/api/v1/export", key=key, session_id="s/one")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/x-ndjson"
    assert "attachment" in answer.headers["content-disposition"]
    api_lines = [orjson.loads(line) for line in answer.content.splitlines()]
    assert api_lines[0]["session_id"] == "s/one" and api_lines[0]["project"] == name
    assert [line["kind"] for line in api_lines[1:]] == [
        "session",
        *["trace"] * 3,
        *["span"] * 6,
        "trailer",
    ]

    target = tmp_path / "one.jsonl"
    done = server.cli("export", "--project", name, "--session", "s/one", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert _lines(target)[1:] == api_lines[1:]

    whole = otlp.get(server, "/api/v1/export", key=key)
    assert whole.status_code == 200 and len(whole.content.splitlines()) == 1 + 2 + 4 + 8 + 1
    for missing in (("s-none", key), ("s/one", other_key)):
        answer = otlp.get(server, "/api/v1/export", key=missing[1], session_id=missing[0])
        assert answer.status_code == 404, answer.text
    assert otlp.get(server, "/api/v1/export", key=key, format="csv").status_code == 400

    # the Parquet zip (the session page's download) imports back as it is
    zipped = otlp.get(server, "/api/v1/export", key=key, session_id="s/one", format="parquet")
    assert zipped.status_code == 200 and zipped.content[:4] == b"PK\x03\x04"
    download = tmp_path / "session.parquet.zip"
    download.write_bytes(zipped.content)
    done = server.cli("import", str(download), "--project", "api-export-copy")
    assert done.returncode == 0, done.stderr
    assert 'Imported 6 spans into project "api-export-copy"' in done.stdout
    copy = tmp_path / "copy.jsonl"
    done = server.cli("export", "--project", "api-export-copy", "-o", str(copy))
    assert done.returncode == 0, done.stderr
    assert _lines(copy)[1:] == api_lines[1:]
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 cut short")
    done = server.cli("import", str(broken), "--project", "api-export-copy")
    assert done.returncode == 1 and "not a readable zip file" in done.stderr, done.stderr


def test_import_refuses_a_bad_file_clearly(server: LaminaServer, tmp_path: Path) -> None:
    name, key = otlp.new_project(server, "bad-import")
    bad = tmp_path / "bad.jsonl"
    good = {
        "kind": "span",
        "trace_id": "ab" * 16,
        "span_id": "cd" * 8,
        "name": "fine",
        "start_ns": 1,
        "end_ns": 2,
    }
    lines = [good, {**good, "span_id": "xyz"}]
    bad.write_bytes(b"\n".join(orjson.dumps(line) for line in lines))
    done = server.cli("import", str(bad), "--project", name, "--partial")
    assert done.returncode == 1
    assert "bad.jsonl, line 2: span_id must be 16 hex digits" in done.stderr
    assert "Traceback" not in done.stderr
    # the chunk with the bad line was not written at all
    assert otlp.api(server, "/api/v1/traces", key=key)["items"] == []

    newer = tmp_path / "newer.jsonl"
    newer.write_bytes(orjson.dumps({"lamina_export": 99}))
    done = server.cli("import", str(newer), "--project", name)
    assert done.returncode == 1 and "newer Lamina" in done.stderr
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 not really")
    done = server.cli("import", str(junk), "--project", name)
    assert done.returncode == 1 and "not a readable Parquet file" in done.stderr
