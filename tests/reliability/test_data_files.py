"""The data file: one written by an earlier schema version opens and migrates; a damaged
or foreign file is refused with a clear message (exit 2), never a traceback, and a
foreign database is left exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from lamina.store.duckdb.schema import MIGRATIONS, SCHEMA_VERSION
from lamina.store.duckdb.store import DB_FILE, DuckDBStore
from tests.conftest import LAMINA, LaminaServer, run_cli
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

OLD_KEY = "lmn_" + "o" * 43
START = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z
SECOND = 1_000_000_000
TRACE = "aa" * 16
ROOT = "bb" * 8
ROOT_RANK = START - 2**62


def write_version_1(data_dir: Path) -> None:
    """A data dir as the first release wrote it: schema 1, a project with a key, one
    session with one two-span trace, its summaries."""
    data_dir.mkdir(parents=True)
    with duckdb.connect(str(data_dir / DB_FILE)) as con:
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        con.execute(MIGRATIONS[0])
        con.execute("INSERT INTO schema_version VALUES (1)")
        con.execute("INSERT INTO projects VALUES ('prj_old', 'default', ?)", [START])
        con.execute(
            "INSERT INTO api_keys VALUES ('key_old', 'prj_old', 'default', ?, ?, ?, NULL)",
            [hashlib.sha256(OLD_KEY.encode()).hexdigest(), OLD_KEY[:10], START],
        )
        span = (
            "INSERT INTO spans VALUES (?, 'prj_old', ?, ?, ?, ?, ?, ?, ?, 'ok', '', "
            "'old-session', 'u-old', ?, ?, ?, ?, ?, ?, ?, [], '{}', '{}', '[]', "
            "'{\"service.name\": \"old\"}', 'old')"
        )
        con.execute(
            span,
            [
                *(1, TRACE, ROOT, None, "old-turn", "DEFAULT", START, START + SECOND),
                *('"hello"', '"hi"', None, None, None, None, None),
            ],
        )
        con.execute(
            span,
            [
                *(
                    2,
                    TRACE,
                    "cc" * 8,
                    ROOT,
                    "llm",
                    "LLM",
                    START + SECOND // 10,
                    START + SECOND // 2,
                ),
                *(None, None, "gpt-4o-mini", "openai", 100, 20, 0.001),
            ],
        )
        con.execute(
            "INSERT INTO traces VALUES ('prj_old', ?, 'old-session', ?, 'u-old', ?, 'old-turn', "
            "?, ?, ?, 2, 0, 100, 20, 0.001, [], '{}', 'hello', ?, 'hi', ?, 1, 2)",
            [TRACE, START, START, ROOT_RANK, START, START + SECOND, ROOT_RANK, ROOT_RANK],
        )
        con.execute(
            "INSERT INTO sessions VALUES ('prj_old', 'old-session', 1, 2, ?, ?, ?, 100, 20, "
            "0.001, ['u-old'], 0, 'hello', 'hi')",
            [START, START + SECOND, SECOND],
        )


def test_a_data_dir_from_schema_version_1_opens_and_migrates(
    new_server: Callable[..., LaminaServer], tmp_path: Path
) -> None:
    data_dir = tmp_path / "old"
    write_version_1(data_dir)
    server = new_server(*IN_PROCESS, data_dir=data_dir, api_key=OLD_KEY)
    assert not any("API key:" in line for line in server.output)  # no new first key

    session = otlp.api(server, "/api/v1/sessions/old-session")
    assert (session["trace_count"], session["span_count"]) == (1, 2)
    assert (session["first_input"], session["last_output"], session["cost"]) == (
        "hello",
        "hi",
        0.001,
    )
    trace = otlp.api(server, f"/api/v1/traces/{TRACE}")
    assert [s["name"] for s in trace["spans"]] == ["old-turn", "llm"]
    assert trace["start_time"] == "2026-01-01T00:00:00Z"
    # the users' totals, kept since schema 19, are filled from the sessions stored
    users = otlp.api(server, "/api/v1/users")["items"]
    assert [(u["user_id"], u["sessions"], u["traces"]) for u in users] == [("u-old", 1, 1)]

    # new spans of the old trace merge into the old summaries
    late = otlp.span(
        bytes.fromhex(TRACE),
        "late-tool",
        parent=bytes.fromhex(ROOT),
        start_ns=START + 2 * SECOND,
        attributes={"gen_ai.usage.input_tokens": 5, "gen_ai.request.model": "gpt-4o-mini"},
        error="late failure",
    )
    assert otlp.post(server.url, OLD_KEY, otlp.export([late])).status_code == 200
    trace = otlp.api(server, f"/api/v1/traces/{TRACE}")
    assert [s["name"] for s in trace["spans"]] == ["old-turn", "llm", "late-tool"]
    assert (trace["span_count"], trace["input_tokens"], trace["status"]) == (3, 105, "error")
    assert trace["name"] == "old-turn" and trace["session_id"] == "old-session"
    session = otlp.api(server, "/api/v1/sessions/old-session")
    assert (session["span_count"], session["error_count"]) == (3, 1)
    # and what later schema versions brought works on it
    done = server.cli("projects", "retention", "default", "3650")
    assert done.returncode == 0, done.stderr
    request = otlp.export([otlp.span(otlp.new_trace_id(), "twice")])
    for _ in range(2):
        assert otlp.post(server.url, OLD_KEY, request).status_code == 200
    assert otlp.api(server, "/api/v1/traces", name="twice")["items"][0]["span_count"] == 1

    server.stop()
    with duckdb.connect(str(data_dir / DB_FILE)) as con:
        versions = [row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()]
    assert sorted(versions) == list(range(1, SCHEMA_VERSION + 1))


def _real_file(tmp_path: Path) -> bytes:
    DuckDBStore(tmp_path / "real").close()
    return (tmp_path / "real" / DB_FILE).read_bytes()


def _garbage(path: Path, tmp_path: Path) -> None:
    path.write_bytes(os.urandom(64 * 1024))


def _empty(path: Path, tmp_path: Path) -> None:
    path.write_bytes(b"")


def _truncated(path: Path, tmp_path: Path) -> None:
    data = _real_file(tmp_path)
    path.write_bytes(data[: len(data) // 2])


def _bit_rot(path: Path, tmp_path: Path) -> None:
    data = bytearray(_real_file(tmp_path))
    for i in range(8192, len(data), 101):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _sqlite(path: Path, tmp_path: Path) -> None:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE projects (name TEXT)")


def _foreign_duckdb(path: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE orders (id INTEGER, total DOUBLE)")
        con.execute("INSERT INTO orders VALUES (1, 9.5)")


def _foreign_duckdb_with_our_names(path: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE projects (id INTEGER)")


@pytest.mark.parametrize(
    "make",
    [
        _garbage,
        _empty,
        _truncated,
        _bit_rot,
        _sqlite,
        _foreign_duckdb,
        _foreign_duckdb_with_our_names,
    ],
    ids=lambda make: make.__name__.strip("_"),
)
def test_a_damaged_or_foreign_file_is_refused_clearly(
    make: Callable[[Path, Path], None], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = data_dir / DB_FILE
    make(path, tmp_path)
    before = path.read_bytes()
    started = time.monotonic()
    serve = subprocess.run(
        [LAMINA, "serve", "--data-dir", str(data_dir), "--port", "0", "--grpc-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert time.monotonic() - started < 20  # no network fetch, no hang
    results = [serve]
    if make in (_garbage, _foreign_duckdb):  # the CLI opens the file the same way
        results.append(run_cli("sessions", "list", "--data-dir", str(data_dir)))
    for result in results:
        output = result.stdout + result.stderr
        assert result.returncode == 2, output
        assert "Traceback" not in output
        assert str(path) in output.replace("\n", "") and "not a Lamina data file" in output, output
    assert path.read_bytes() == before, "the file was changed"
