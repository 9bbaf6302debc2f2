"""Administrative operations the CLI runs, on the data dir or through a running server.

DuckDB lets one process write a data file at a time. When ``lamina serve`` holds
the data dir, the CLI sends each operation to the server's local admin
endpoint (authenticated by a token only the data dir's owner can read), and
the server runs the very same method on its store. Every method takes and
returns plain JSON values, so both ways give the same answer.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from lamina import auth, datadir, lifecycle, retention
from lamina.errors import BadRequest, ConfigError, Conflict, LaminaError, NotFound
from lamina.exchange import export
from lamina.query import present
from lamina.store.base import Project, Store

SERVER_FILE = "server.json"
DEFAULT_PROJECT = "default"


class Operations:
    """The operations, run directly on a store."""

    # The names the admin endpoint will run; nothing else is reachable through it.
    EXPOSED = frozenset(
        {
            "create_project",
            "list_projects",
            "create_key",
            "list_keys",
            "revoke_key",
            "create_user",
            "list_users",
            "list_sessions",
            "get_session",
            "get_trace",
            "delete_trace",
            "delete_session",
            "delete_project",
            "set_retention",
            "export_page",
            "import_spans",
            "list_quarantined",
            "retry_quarantined",
            "drop_quarantined",
        }
    )

    def __init__(self, store: Store, on_change: Any = None) -> None:
        self.store = store
        self._on_change = on_change

    def _project(self, name: str) -> Project:
        project = self.store.find_project(name)
        if project is None:
            names = ", ".join(p.name for p in self.store.list_projects()) or "none yet"
            raise NotFound(f'No project "{name}". Projects: {names}.')
        return project

    def create_project(self, name: str) -> dict[str, Any]:
        name = name.strip()
        if not name or len(name) > 100:
            raise BadRequest("A project name must be 1 to 100 characters.")
        return asdict(self.store.create_project(name))

    def list_projects(self) -> list[dict[str, Any]]:
        return [asdict(project) for project in self.store.list_projects()]

    def create_key(self, project: str, name: str = "default") -> dict[str, Any]:
        found = self._project(project)
        key, record = auth.create_key(self.store, found.id, name)
        return {"key": key, **asdict(record), "project": found.name}

    def list_keys(self, project: str | None = None) -> list[dict[str, Any]]:
        project_id = self._project(project).id if project else None
        names = {p.id: p.name for p in self.store.list_projects()}
        return [
            {**asdict(key), "project": names.get(key.project_id, key.project_id)}
            for key in self.store.list_keys(project_id)
        ]

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        record = self.store.revoke_key(key_id)
        if record is None:
            raise NotFound(f'No API key with id "{key_id}". `lamina keys list` shows the ids.')
        if self._on_change is not None:
            self._on_change()
        return asdict(record)

    def create_user(self, email: str, password: str, is_admin: bool = False) -> dict[str, Any]:
        from lamina.web.passwords import hash_password

        email = email.strip()
        if "@" not in email:
            raise BadRequest(f"{email!r} is not an email address.")
        if len(password) < 8:
            raise BadRequest("A password must be at least 8 characters.")
        if self.store.find_user(email) is not None:  # sign-in finds emails in any case
            raise Conflict(f"A user with the email {email} already exists.")
        user = self.store.create_user(email, hash_password(password), is_admin)
        return {"id": user.id, "email": user.email, "is_admin": user.is_admin}

    def list_users(self) -> list[dict[str, Any]]:
        """The users who can sign in, without their password hashes."""
        return [
            {"id": u.id, "email": u.email, "is_admin": u.is_admin, "created_ns": u.created_ns}
            for u in self.store.list_users()
        ]

    def list_sessions(self, project: str, params: dict[str, str]) -> dict[str, Any]:
        return present.list_sessions(self.store, self._project(project).id, params)

    def get_session(self, project: str, session_id: str) -> dict[str, Any]:
        return present.get_session(self.store, self._project(project).id, session_id)

    def get_trace(self, project: str, trace_id: str) -> dict[str, Any]:
        return present.get_trace(self.store, self._project(project).id, trace_id)

    # -- the data lifecycle ----------------------------------------------------------
    def delete_trace(self, project: str, trace_id: str) -> dict[str, Any]:
        return lifecycle.delete_trace(self.store, self._project(project).id, trace_id)

    def delete_session(self, project: str, session_id: str) -> dict[str, Any]:
        return lifecycle.delete_session(self.store, self._project(project).id, session_id)

    def delete_project(self, project: str) -> dict[str, Any]:
        found = self._project(project)
        deleted = self.store.delete_project(found.id)
        if self._on_change is not None:
            self._on_change()  # its keys stop working at once
        return {"project": found.name, "deleted": asdict(deleted)}

    def set_retention(self, project: str, days: int | None) -> dict[str, Any]:
        """Keep the project's traces ``days`` days (0 or None: for ever); applied at once."""
        found = self._project(project)
        changed = self.store.set_retention(found.id, retention.check_days(days))
        if changed is None:
            raise NotFound(f'No project "{project}".')
        deleted = retention.apply(self.store, changed)
        return {**asdict(changed), "deleted": asdict(deleted)}

    def export_page(
        self,
        project: str,
        kind: str,
        after: str | None = None,
        limit: int = 1000,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        found = self._project(project)
        page = export.export_page(self.store, found.id, kind, after, limit, session_id)
        if kind == "spans" and after is None:
            page["total"] = self._span_total(found.id, session_id)
        return page

    def _span_total(self, project_id: str, session_id: str | None) -> int:
        if session_id is None:
            return self.store.count_spans(project_id)
        session = self.store.get_session(project_id, session_id)
        return int(session["span_count"]) if session is not None else 0

    def import_spans(self, project: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
        return lifecycle.import_spans(self.store, self._project(project).id, spans)

    # -- writes the store set aside (lamina.store.duckdb.quarantine) ----------------------------
    def list_quarantined(self) -> list[dict[str, Any]]:
        return [self._named(asdict(entry)) for entry in self.store.list_quarantined()]

    def retry_quarantined(self, entry_id: str) -> dict[str, Any]:
        return self._named(asdict(self.store.retry_quarantined(entry_id)))

    def drop_quarantined(self, entry_id: str) -> dict[str, Any]:
        return self._named(asdict(self.store.drop_quarantined(entry_id)))

    def _named(self, entry: dict[str, Any]) -> dict[str, Any]:
        names = {p.id: p.name for p in self.store.list_projects()}
        entry["projects"] = [names.get(p, p) for p in entry.pop("project_ids")]
        return entry


def ensure_default_project(store: Store) -> tuple[Project, str | None]:
    """The default project; on a new data dir also its first API key (returned once)."""
    project = store.find_project(DEFAULT_PROJECT)
    if project is not None:
        return project, None
    try:
        project = store.create_project(DEFAULT_PROJECT)
    except Conflict:
        found = store.find_project(DEFAULT_PROJECT)
        assert found is not None
        return found, None
    key, _ = auth.create_key(store, project.id, "default")
    return project, key


class RemoteOperations:
    """The same operations, sent to a running server's admin endpoint."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self._token = token

    def __getattr__(self, name: str) -> Any:
        if name not in Operations.EXPOSED:
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if args:
                raise TypeError("remote operations take keyword arguments only")
            import httpx  # only the remote path needs it; keeps the CLI quick to start

            try:
                response = httpx.post(
                    f"{self.url}/api/admin/{name}",
                    content=orjson.dumps(kwargs),
                    headers={"Authorization": f"Bearer {self._token}"},
                    timeout=30,
                )
            except httpx.HTTPError as exc:
                raise ConfigError(f"Cannot reach the Lamina server at {self.url}: {exc}") from exc
            payload = response.json()
            if response.status_code >= 400:
                raise _error_from(response.status_code, payload)
            return payload

        return call


def _error_from(status: int, payload: Any) -> LaminaError:
    message = str(payload.get("error", {}).get("message", payload))
    for cls in (BadRequest, NotFound, Conflict):
        if cls.status == status:
            return cls(message)
    return LaminaError(message)


# -- the admin token and the running server's address, kept in the data dir -------


def admin_token(data_dir: Path) -> str:
    """The data dir's admin token, made on first use, readable only by its owner."""
    return datadir.secret(data_dir, datadir.ADMIN_TOKEN)


def write_server_file(data_dir: Path, info: dict[str, Any]) -> None:
    datadir.write_private(data_dir / SERVER_FILE, orjson.dumps({**info, "pid": os.getpid()}))


def remove_server_file(data_dir: Path) -> None:
    (data_dir / SERVER_FILE).unlink(missing_ok=True)


def running_server(data_dir: Path) -> dict[str, Any] | None:
    """The server that holds this data dir, if one is running."""
    path = data_dir / SERVER_FILE
    try:
        info: dict[str, Any] = orjson.loads(path.read_bytes())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, orjson.JSONDecodeError):
        return None
    return info
