"""Comments through the CLI (#19): ``lamina export`` and ``lamina import`` carry them in
every format (JSONL, a Parquet directory, the pages' Parquet zip), through a server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import LaminaServer, run_cli
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp


def test_lamina_export_and_import_carry_comments_in_every_format(
    server: LaminaServer, tmp_path: Path
) -> None:
    name, key = otlp.new_project(server, "cli-notes")
    session_id = otlp.uid("noted")
    (trace_id,) = send_session(server, key, session_id, 1)
    headers = {"Authorization": f"Bearer {key}"}
    for body in (
        {"body": "on the session", "session_id": session_id},
        {"body": "on the trace", "trace_id": trace_id},
    ):
        answer = otlp.client().post(f"{server.url}/api/v1/comments", json=body, headers=headers)
        assert answer.status_code == 201, answer.text

    token = (server.data_dir / "admin.token").read_text().strip()

    def comments(project: str) -> list[tuple[str, str | None, str]]:
        answer = otlp.client().get(
            f"{server.url}/api/v1/comments",
            params={"project": project, "session_id": session_id},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        return [(c["body"], c["trace_id"], c["author"]) for c in answer.json()["items"]]

    author = comments(name)[0][2]

    zipped = tmp_path / "x.parquet.zip"
    download = otlp.client().get(
        f"{server.url}/api/v1/export", params={"format": "parquet"}, headers=headers
    )
    assert download.status_code == 200
    zipped.write_bytes(download.content)
    for file_format, target in (
        ("jsonl", tmp_path / "x.jsonl"),
        ("parquet", tmp_path / "x"),
        ("zip", zipped),
    ):
        if file_format != "zip":
            done = server.cli(
                "export", "--project", name, "--format", file_format, "-o", str(target)
            )
            assert done.returncode == 0 and "with 2 comments" in done.stderr, done.stderr
        copy = otlp.uid(f"copy-{file_format}")
        done = server.cli("import", str(target), "--project", copy)
        assert done.returncode == 0 and "with 2 comments" in done.stdout, done.stderr
        assert (
            comments(copy)
            == comments(name)
            == [
                ("on the session", None, author),
                ("on the trace", trace_id, author),
            ]
        )


def test_lamina_comments_list_add_delete_through_the_server(server: LaminaServer) -> None:
    name, key = otlp.new_project(server, "cli-comments")
    session_id = otlp.uid("talked")
    (trace_id,) = send_session(server, key, session_id, 1)

    def cli(*args: str) -> str:
        done = server.cli("comments", *args, "--project", name)
        assert done.returncode == 0, done.stderr
        return done.stdout

    made = json.loads(cli("add", "needs a look", "--session", session_id, "--json"))
    assert made["author"] == "admin" and made["session_id"] == session_id
    on_trace = json.loads(cli("add", "slow turn", "--trace", trace_id, "--json"))
    assert on_trace["session_id"] == session_id
    listed = json.loads(cli("list", "--session", session_id, "--json"))["items"]
    assert [c["body"] for c in listed] == ["needs a look", "slow turn"]
    assert "needs a look" in cli("list", "--session", session_id)
    assert "Deleted comment" in cli("delete", made["comment_id"])
    listed = json.loads(cli("list", "--trace", trace_id, "--json"))["items"]
    assert [c["body"] for c in listed] == ["slow turn"]
    missing = server.cli("comments", "add", "x", "--session", "nope", "--project", name)
    assert missing.returncode == 1 and 'No session "nope"' in missing.stderr


def test_lamina_comments_on_a_data_dir_no_server_holds(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    empty = run_cli("comments", "list", "--json", *data)
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout)["items"] == []
    refused = run_cli("comments", "add", "hello", "--session", "s-1", *data)
    assert refused.returncode == 1 and 'No session "s-1"' in refused.stderr
