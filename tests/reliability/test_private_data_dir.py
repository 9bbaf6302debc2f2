"""The data directory is private: the directory 0700 and every file in it 0600, on a new
data dir and (with one log line) on an existing one, and the cookie-signing secret is
not in the store file, so a copy of that file alone cannot sign a session cookie.

The report: the store file (holding the cookie secret and every prompt), its WAL,
``server.json`` and the journal were world-readable; a local user copied the store
file, read the secret, forged an admin's session and made an API key.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
from itsdangerous import URLSafeTimedSerializer

from lamina.store.duckdb.store import DB_FILE, DuckDBStore
from tests.conftest import LaminaServer
from tests.support import otlp
from tests.support.otlp import IN_PROCESS


def _modes(data_dir: Path) -> dict[str, int]:
    """Every file and folder under the data dir (and itself: "."), with its mode."""
    found = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for path in data_dir.rglob("*"):
        found[str(path.relative_to(data_dir))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def _send_a_turn(server: LaminaServer) -> None:
    spans = otlp.conversation_turn("s-private", 0, start_ns=time.time_ns())
    assert otlp.post(server.url, server.api_key, otlp.export(spans)).status_code == 200


def test_a_new_data_dir_and_every_file_in_it_are_private(
    new_server: Callable[..., LaminaServer],
) -> None:
    server = new_server(*IN_PROCESS)
    _send_a_turn(server)
    running = _modes(server.data_dir)
    assert server.stop() == 0
    for modes in (running, _modes(server.data_dir)):
        assert {name: mode for name, mode in modes.items() if mode & 0o077} == {}
    assert {DB_FILE, "admin.token", "server.json", "cookie.secret", "journal"} <= set(running)
    assert any(name.startswith("journal/") for name in running), running


def test_an_existing_data_dir_is_made_private_at_start(
    new_server: Callable[..., LaminaServer],
) -> None:
    server = new_server(*IN_PROCESS)
    _send_a_turn(server)
    assert server.stop() == 0
    opened = server.data_dir / "opened"  # as an earlier release left it
    for path in [server.data_dir, *server.data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    opened.symlink_to("/etc/hostname")  # a link is neither followed nor changed
    before = os.stat("/etc/hostname").st_mode

    again = new_server(*IN_PROCESS, data_dir=server.data_dir)
    modes = _modes(again.data_dir)
    del modes["opened"]
    assert {name: mode for name, mode in modes.items() if mode & 0o077} == {}
    assert os.stat("/etc/hostname").st_mode == before
    logged = [line for line in again.output if "readable by their owner only" in line]
    assert len(logged) == 1 and str(again.data_dir) in logged[0], again.output


def _signed_in(server: LaminaServer, secret: str, user_id: str) -> bool:
    """Whether a session cookie signed with ``secret`` for ``user_id`` is taken."""
    cookie = URLSafeTimedSerializer(secret, salt="lamina.session").dumps(
        {"u": user_id, "t": time.time_ns(), "c": "forged"}
    )
    answer = httpx.get(
        f"{server.url}/p/default/traces", cookies={"lamina_session": cookie}, timeout=10
    )
    assert answer.status_code in (200, 303), answer.text
    return answer.status_code == 200


def _read_copy(data_dir: Path, copy: Path) -> tuple[list[str], str]:
    """What a copy of the store file gives away: every setting's value, and a user id."""
    shutil.copy(data_dir / DB_FILE, copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        values = [row[0] for row in con.execute("SELECT value FROM settings").fetchall()]
        (user_id,) = con.execute("SELECT id FROM users").fetchone() or ("",)
    return [value for value in values if value], user_id


def _stopped_with_an_admin(new_server: Callable[..., LaminaServer]) -> LaminaServer:
    """A server that made an admin user and stopped (its files closed)."""
    server = new_server(*IN_PROCESS)
    done = server.cli(
        "users",
        "create",
        "admin@example.com",
        "--admin",
        "--password-stdin",
        input="a long password\n",
    )
    assert done.returncode == 0, done.stderr
    assert server.stop() == 0
    return server


def test_a_copy_of_the_store_file_alone_cannot_sign_a_cookie(
    new_server: Callable[..., LaminaServer], tmp_path: Path
) -> None:
    server = _stopped_with_an_admin(new_server)
    values, user_id = _read_copy(server.data_dir, tmp_path / "copy.duckdb")
    assert user_id

    server = new_server(*IN_PROCESS, data_dir=server.data_dir)
    assert not any(_signed_in(server, value, user_id) for value in values)
    secret = (server.data_dir / "cookie.secret").read_text().strip()
    assert _signed_in(server, secret, user_id)  # what does sign is only in that file


def test_a_secret_an_earlier_release_kept_in_the_store_is_dropped(
    new_server: Callable[..., LaminaServer], tmp_path: Path
) -> None:
    server = _stopped_with_an_admin(new_server)
    (server.data_dir / "cookie.secret").unlink(missing_ok=True)
    store = DuckDBStore(server.data_dir)
    store.set_setting("web.cookie_secret", "copied-by-someone")  # as releases before kept it
    store.close()
    values, user_id = _read_copy(server.data_dir, tmp_path / "before.duckdb")
    assert "copied-by-someone" in values

    server = new_server(*IN_PROCESS, data_dir=server.data_dir)
    assert not _signed_in(server, "copied-by-someone", user_id)
    assert server.stop() == 0
    values, _ = _read_copy(server.data_dir, tmp_path / "after.duckdb")
    assert "copied-by-someone" not in values
