"""Administrative operations, run on a store: what the JSON API's managing routes,
the Settings page and the ``lamina`` command (on a data dir no server holds) do.

DuckDB lets one process write a data file at a time. When ``lamina serve`` holds
the data dir, the CLI calls the server's JSON API instead (:mod:`lamina.cli.client`),
authenticated by the data dir's admin token, and the server runs these same
operations. Every method takes and returns plain JSON values, so both ways give
the same answer.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from lamina import auth, datadir, lifecycle, retention
from lamina.errors import BadRequest, Conflict, NotFound
from lamina.query import present
from lamina.query import scores as scoring
from lamina.query.params import parse_score_query
from lamina.store.base import ApiKey, Project, Store, User
from lamina.store.comments import Comment
from lamina.store.scores import Score

if TYPE_CHECKING:  # the commands that need these import them (pyarrow is slow to load)
    from lamina.exchange.export import Rows
    from lamina.ingest.batcher import IngestBatcher

SERVER_FILE = "server.json"
DEFAULT_PROJECT = "default"
MAX_IDLE_MINUTES = 7 * 24 * 60
# Who gives the scores of the admin token (the ``lamina`` command, on a server or not).
ADMIN = scoring.Giver("admin", admin=True)


def find_project(store: Store, name: str) -> Project:
    """The project called ``name`` (or whose id it is), or NotFound naming the others."""
    project = store.find_project(name)
    if project is None:
        names = ", ".join(p.name for p in store.list_projects()) or "none yet"
        raise NotFound(f'No project "{name}". Projects: {names}.')
    return project


class Operations:
    """The operations, run directly on a store."""

    def __init__(
        self, store: Store, on_change: Any = None, batcher: IngestBatcher | None = None
    ) -> None:
        self.store = store
        self._on_change = on_change  # called when keys stop working (revoked, deleted)
        self._batcher = batcher  # the writer imports go through

    def _project(self, name: str) -> Project:
        return find_project(self.store, name)

    def create_project(self, name: str) -> dict[str, Any]:
        name = name.strip()
        if not name or len(name) > 100:
            raise BadRequest("A project name must be 1 to 100 characters.")
        return asdict(self.store.create_project(name))

    def list_projects(self) -> list[dict[str, Any]]:
        return [asdict(project) for project in self.store.list_projects()]

    def get_project(self, project: str) -> dict[str, Any]:
        """The project, with how many spans it holds."""
        found = self._project(project)
        return {**asdict(found), "span_count": self.store.count_spans(found.id)}

    def create_key(self, project: str, name: str = "default") -> dict[str, Any]:
        found = self._project(project)
        if not name.strip() or len(name) > 100:
            raise BadRequest("A key name must be 1 to 100 characters.")
        key, record = auth.create_key(self.store, found.id, name)
        return {"key": key, **asdict(record), "project": found.name}

    def list_keys(self, project: str | None = None) -> list[dict[str, Any]]:
        project_id = self._project(project).id if project else None
        names = self._project_names()
        return [_key(key, names) for key in self.store.list_keys(project_id)]

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        record = self.store.revoke_key(key_id)
        if record is None:
            raise NotFound(f'No API key with id "{key_id}". `lamina keys list` shows the ids.')
        if self._on_change is not None:
            self._on_change()
        return _key(record, self._project_names())

    def create_user(self, email: str, password: str, is_admin: bool = False) -> dict[str, Any]:
        from lamina.demo.comments import star_for
        from lamina.web.passwords import hash_password

        email = email.strip()
        if "@" not in email:
            raise BadRequest(f"{email!r} is not an email address.")
        if len(password) < 8:
            raise BadRequest("A password must be at least 8 characters.")
        if self.store.find_user(email) is not None:  # sign-in finds emails in any case
            raise Conflict(f"A user with the email {email} already exists.")
        made = self.store.create_user(email, hash_password(password), is_admin)
        star_for(self.store, made.id)  # the demo's star, if the demo was loaded here
        return _user(made)

    def list_users(self) -> list[dict[str, Any]]:
        """The users who can sign in, without their password hashes."""
        return [_user(user) for user in self.store.list_users()]

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

    def set_session_idle_minutes(self, project: str, minutes: int) -> dict[str, Any]:
        """A session of the project ends once its last span ended this long ago."""
        if isinstance(minutes, bool) or not 1 <= minutes <= MAX_IDLE_MINUTES:
            raise BadRequest(
                f"session_idle_minutes must be a whole number from 1 to {MAX_IDLE_MINUTES} "
                f"(a week); got {minutes}."
            )
        changed = self.store.set_session_idle_minutes(self._project(project).id, minutes)
        if changed is None:
            raise NotFound(f'No project "{project}".')
        return asdict(changed)

    # -- scores (lamina.query.scores; the server's routes are lamina.web.scores) --------------
    def list_scores(self, project: str, params: dict[str, str]) -> dict[str, Any]:
        page = self.store.list_scores(self._project(project).id, parse_score_query(params))
        return {"items": [present.score(s) for s in page.items], "next_cursor": page.next_cursor}

    def add_score(self, project: str, item: dict[str, Any]) -> dict[str, Any]:
        """Give a score, as ``POST /api/v1/scores`` does with the admin token."""
        project_id = self._project(project).id
        known = scoring.configs(self.store, project_id)
        made = scoring.to_score(item, known, ADMIN, time.time_ns(), scoring.new_score_id)
        self.store.add_scores(project_id, [made])
        return {"score": present.score(made)}

    def delete_score(self, project: str, score_id: str) -> dict[str, Any]:
        deleted = self.store.delete_score(self._project(project).id, score_id)
        if deleted is None:
            raise NotFound(f'No score "{score_id}" in project "{project}".')
        return {"deleted": present.score(deleted)}

    # -- comments (lamina.query.comments), as the admin token writes them ------------------------
    def list_comments(self, project: str, params: dict[str, str]) -> dict[str, Any]:
        from lamina.query import comments
        from lamina.query.params import parse_comment_query

        page = self.store.list_comments(self._project(project).id, parse_comment_query(params))
        return {
            "items": [comments.present(c) for c in page.items],
            "next_cursor": page.next_cursor,
        }

    def add_comment(self, project: str, item: dict[str, Any]) -> dict[str, Any]:
        """Write a comment, as ``POST /api/v1/comments`` does with the admin token."""
        from lamina.query import comments

        made = comments.new_comment(item, comments.Commenter(comments.ADMIN, comments.ADMIN))
        stored = comments.add(self.store, self._project(project).id, made)
        return {"comment": comments.present(stored)}

    def delete_comment(self, project: str, comment_id: str) -> dict[str, Any]:
        from lamina.query import comments

        admin = comments.Commenter(comments.ADMIN, comments.ADMIN)
        deleted = comments.delete(self.store, self._project(project).id, comment_id, admin)
        return {"deleted": comments.present(deleted)}

    # -- datasets (lamina.evaluation.datasets), as the API takes and shows them ---------------
    def list_datasets(self, project: str) -> dict[str, Any]:
        from lamina.evaluation import datasets

        found = self.store.list_datasets(self._project(project).id)
        return {"items": [datasets.present_dataset(item) for item in found]}

    def create_dataset(self, project: str, item: dict[str, Any]) -> dict[str, Any]:
        from lamina.evaluation import datasets

        made, _ = datasets.create(self.store, self._project(project).id, item)
        return {"dataset": datasets.present_dataset(made)}

    def delete_dataset(self, project: str, name: str) -> dict[str, Any]:
        from lamina.evaluation import datasets

        found = self.store.delete_dataset(self._project(project).id, datasets.check_name(name))
        if found is None:
            raise NotFound(datasets.no_dataset(name))
        return {"deleted": datasets.present_dataset(found)}

    def list_dataset_items(self, project: str, name: str, params: dict[str, str]) -> dict[str, Any]:
        from lamina.evaluation import datasets
        from lamina.query.params import parse_item_query

        found = self._project(project)
        if self.store.get_dataset(found.id, datasets.check_name(name)) is None:
            raise NotFound(datasets.no_dataset(name))
        page = self.store.list_dataset_items(found.id, name, parse_item_query(params))
        items = [datasets.present_item(item, found.name) for item in page.items]
        return {"items": items, "next_cursor": page.next_cursor}

    def add_dataset_items(self, project: str, name: str, items: list[Any]) -> dict[str, Any]:
        from lamina.evaluation import datasets

        made = datasets.plain_items(items, datasets.now())
        datasets.add_items(self.store, self._project(project).id, datasets.check_name(name), made)
        return {"added": len(made), "item_ids": [item.item_id for item in made]}

    def create_experiment(self, project: str, given: dict[str, Any]) -> dict[str, Any]:
        from lamina.evaluation import experiments

        found = self._project(project)
        made = experiments.new_experiment(given, time.time_ns())
        stored = self.store.put_experiment(found.id, made)
        return {"experiment": experiments.present_experiment(stored, found.name)}

    def add_experiment_items(
        self, project: str, experiment_id: str, items: list[Any]
    ) -> dict[str, Any]:
        from lamina.evaluation import experiments

        made = experiments.parse_items({"items": items})
        if not experiments.record(self.store, self._project(project).id, experiment_id, made):
            raise NotFound(f'No experiment "{experiment_id[:100]}" in this project.')
        return {"added": len(made)}

    def delete_dataset_item(self, project: str, name: str, item_id: str) -> dict[str, Any]:
        from lamina.evaluation import datasets

        found = self._project(project)
        deleted = self.store.delete_dataset_item(found.id, datasets.check_name(name), item_id)
        if deleted is None:
            raise NotFound(f'No item "{item_id[:100]}" in the dataset "{name}".')
        return {"deleted": datasets.present_item(deleted, found.name)}

    def end_session(
        self, project: str, session_id: str, outcome: str | None = None
    ) -> dict[str, Any]:
        """End the session now and, with an outcome, give it an outcome score."""
        project_id = self._project(project).id
        return scoring.end_session(self.store, project_id, session_id, outcome, ADMIN)

    def export_rows(self, project: str, session_id: str | None = None) -> Rows:
        """Every page of export lines of the project (or of one of its sessions)."""
        from lamina.exchange import export

        project_id = self._project(project).id

        def fetch(kind: str, after: str | None) -> dict[str, Any]:
            return export.export_page(self.store, project_id, kind, after, 2000, session_id)

        return export.pages(fetch)

    def import_spans(self, project: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
        """Store exported span rows in the project through the ingest batcher, in one
        write (all or none); returns once they are committed."""
        from lamina.exchange import importing

        assert self._batcher is not None, "imports need the batcher"
        batch, traces = importing.to_batch(self._project(project).id, spans)
        if batch.count:
            asyncio.run(_committed(self._batcher, batch))
        return {"spans": batch.count, "traces": traces}

    def import_scores(self, project: str, scores: list[Score]) -> dict[str, Any]:
        """Store exported scores (lamina.exchange.scores.read_scores) as given, checked
        against the project's configs (lamina.query.scores.check_imported)."""
        project_id = self._project(project).id
        known = scoring.configs(self.store, project_id)
        self.store.add_scores(project_id, scoring.check_imported(scores, known, ADMIN))
        return {"scores": len(scores)}

    def import_comments(self, project: str, comments: list[Comment]) -> dict[str, Any]:
        """Store exported comments (lamina.exchange.comments.read_comments) as written,
        on the sessions and traces the project has."""
        from lamina.exchange.comments import store_comments

        return {"comments": store_comments(self.store, self._project(project).id, comments)}

    # -- writes the store set aside (lamina.store.duckdb.quarantine) ----------------------------
    def list_quarantined(self) -> list[dict[str, Any]]:
        return [self._named(asdict(entry)) for entry in self.store.list_quarantined()]

    def retry_quarantined(self, entry_id: str) -> dict[str, Any]:
        return self._named(asdict(self.store.retry_quarantined(entry_id)))

    def drop_quarantined(self, entry_id: str) -> dict[str, Any]:
        return self._named(asdict(self.store.drop_quarantined(entry_id)))

    def _project_names(self) -> dict[str, str]:
        return {p.id: p.name for p in self.store.list_projects()}

    def _named(self, entry: dict[str, Any]) -> dict[str, Any]:
        names = self._project_names()
        entry["projects"] = [names.get(p, p) for p in entry.pop("project_ids")]
        return entry


def _key(key: ApiKey, names: dict[str, str]) -> dict[str, Any]:
    return {**asdict(key), "project": names.get(key.project_id, key.project_id)}


def _user(user: User) -> dict[str, Any]:
    """A user, without the password hash."""
    return {
        "id": user.id,
        "email": user.email,
        "is_admin": user.is_admin,
        "created_ns": user.created_ns,
    }


async def _committed(batcher: IngestBatcher, batch: Any) -> None:
    await batcher.enqueue(batch)


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
