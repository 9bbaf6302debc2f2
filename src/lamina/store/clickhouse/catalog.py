"""Projects, API keys, users and settings: small versioned tables in the same
database, so that every server sees the same ones.

Nothing is kept in memory that another server would need. Two servers may create
the same project name (or user email) at the same moment: each inserts its row and
reads the name back, and the earlier row wins (its version is the negated creation
time, and the tables keep the highest version).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lamina.errors import Conflict
from lamina.store.base import ApiKey, Project, User
from lamina.store.clickhouse.connection import Connection
from lamina.store.rows import new_id

_PROJECT_FIELDS = "id, name, created_ns, retention_days, session_idle_minutes"
_KEY_FIELDS = "id, project_id, name, prefix, created_ns, revoked_ns"
_USER_FIELDS = "id, email, password_hash, is_admin, created_ns"


# -- projects --------------------------------------------------------------------------------
def create_project(db: Connection, name: str) -> Project:
    if _project_named(db, name) is not None:
        raise Conflict(f'A project named "{name}" already exists.')
    project = Project(id=new_id("prj"), name=name, created_ns=db.tick())
    db.execute(
        "INSERT INTO projects (name, id, created_ns, version) "
        "VALUES ({name:String}, {id:String}, {created:Int64}, {version:Int64})",
        {
            "name": name,
            "id": project.id,
            "created": project.created_ns,
            "version": -project.created_ns,
        },
    )
    winner = _project_named(db, name)  # two servers at once: the earlier one wins
    if winner is None or winner.id != project.id:
        raise Conflict(f'A project named "{name}" already exists.')
    return project


def _project_named(db: Connection, name: str) -> Project | None:
    rows = db.query(
        f"SELECT {_PROJECT_FIELDS} FROM projects FINAL WHERE name = {{name:String}}",
        {"name": name},
    )
    return Project(**rows[0]) if rows else None


def list_projects(db: Connection) -> list[Project]:
    rows = db.query(f"SELECT {_PROJECT_FIELDS} FROM projects FINAL ORDER BY created_ns, id")
    return [Project(**row) for row in rows]


def find_project(db: Connection, name_or_id: str) -> Project | None:
    rows = db.query(
        f"SELECT {_PROJECT_FIELDS} FROM projects FINAL "
        "WHERE id = {x:String} OR name = {x:String} ORDER BY id = {x:String} DESC LIMIT 1",
        {"x": name_or_id},
    )
    return Project(**rows[0]) if rows else None


# -- API keys --------------------------------------------------------------------------------
def create_key(db: Connection, project_id: str, name: str, key_hash: str, prefix: str) -> ApiKey:
    key = ApiKey(
        id=new_id("key"),
        project_id=project_id,
        name=name,
        prefix=prefix,
        created_ns=db.tick(),
        revoked_ns=None,
    )
    _put_key(db, key, key_hash, key.created_ns)
    return key


def _put_key(db: Connection, key: ApiKey, key_hash: str, version: int) -> None:
    db.execute(
        "INSERT INTO api_keys VALUES ({hash:String}, {id:String}, {project:String}, "
        "{name:String}, {prefix:String}, {created:Int64}, {revoked:Nullable(Int64)}, "
        "{version:Int64})",
        {
            "hash": key_hash,
            "id": key.id,
            "project": key.project_id,
            "name": key.name,
            "prefix": key.prefix,
            "created": key.created_ns,
            "revoked": key.revoked_ns,
            "version": version,
        },
    )


def list_keys(db: Connection, project_id: str | None = None) -> list[ApiKey]:
    text = f"SELECT {_KEY_FIELDS} FROM api_keys FINAL"
    params: dict[str, Any] = {}
    if project_id is not None:
        text += " WHERE project_id = {project:String}"
        params["project"] = project_id
    rows = db.query(text + " ORDER BY created_ns, id", params)
    return [ApiKey(**row) for row in rows]


def revoke_key(db: Connection, key_id: str) -> ApiKey | None:
    rows = db.query(
        f"SELECT key_hash, {_KEY_FIELDS} FROM api_keys FINAL WHERE id = {{id:String}}",
        {"id": key_id},
    )
    if not rows:
        return None
    key_hash = rows[0].pop("key_hash")
    key = ApiKey(**rows[0])
    if key.revoked_ns is not None:
        return key
    now = db.tick()
    revoked = replace(key, revoked_ns=now)
    _put_key(db, revoked, key_hash, now)
    return revoked


def project_for_key(db: Connection, key_hash: str) -> str | None:
    rows = db.query(
        "SELECT project_id, revoked_ns FROM api_keys FINAL WHERE key_hash = {hash:String}",
        {"hash": key_hash},
    )
    if not rows or rows[0]["revoked_ns"] is not None:
        return None
    return str(rows[0]["project_id"])


# -- users -----------------------------------------------------------------------------------
def create_user(db: Connection, email: str, password_hash: str, is_admin: bool) -> User:
    if _user_with_email(db, email) is not None:
        raise Conflict(f"A user with the email {email} already exists.")
    user = User(
        id=new_id("usr"),
        email=email,
        password_hash=password_hash,
        is_admin=is_admin,
        created_ns=db.tick(),
    )
    db.execute(
        "INSERT INTO users VALUES (lower({email:String}), {id:String}, {email:String}, "
        "{hash:String}, {admin:Bool}, {created:Int64}, {version:Int64})",
        {
            "email": email,
            "id": user.id,
            "hash": password_hash,
            "admin": int(is_admin),
            "created": user.created_ns,
            "version": -user.created_ns,
        },
    )
    winner = _user_with_email(db, email)
    if winner is None or winner.id != user.id:
        raise Conflict(f"A user with the email {email} already exists.")
    return user


def _user_with_email(db: Connection, email: str) -> User | None:
    rows = db.query(
        f"SELECT {_USER_FIELDS} FROM users FINAL WHERE email_key = lower({{e:String}})",
        {"e": email},
    )
    return User(**rows[0]) if rows else None


def find_user(db: Connection, email_or_id: str) -> User | None:
    rows = db.query(
        f"SELECT {_USER_FIELDS} FROM users FINAL "
        "WHERE id = {x:String} OR email_key = lower({x:String}) LIMIT 1",
        {"x": email_or_id},
    )
    return User(**rows[0]) if rows else None


def list_users(db: Connection) -> list[User]:
    rows = db.query(f"SELECT {_USER_FIELDS} FROM users FINAL ORDER BY created_ns, id")
    return [User(**row) for row in rows]


# -- settings --------------------------------------------------------------------------------
def get_setting(db: Connection, name: str) -> str | None:
    rows = db.query("SELECT value FROM settings FINAL WHERE name = {name:String}", {"name": name})
    return str(rows[0]["value"]) if rows else None


def set_setting(db: Connection, name: str, value: str) -> None:
    db.execute(
        "INSERT INTO settings VALUES ({name:String}, {value:String}, {version:Int64})",
        {"name": name, "value": value, "version": db.tick()},
    )
