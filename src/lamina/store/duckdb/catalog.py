"""The catalog: projects, API keys, users and settings, each row changed by one
statement committed on its own (see lamina.store.duckdb.connection.Connection.write)."""

from __future__ import annotations

import time
from typing import Any

import duckdb

from lamina.errors import Conflict
from lamina.store.base import ApiKey, Project, User
from lamina.store.duckdb.connection import Connection
from lamina.store.rows import new_id

_PROJECT = "id, name, created_ns, retention_days, session_idle_minutes"
_KEY = "id, project_id, name, prefix, created_ns, revoked_ns"
_USER = "id, email, password_hash, is_admin, created_ns"


# -- projects ------------------------------------------------------------------------
def create_project(connection: Connection, name: str) -> Project:
    project = Project(id=new_id("prj"), name=name, created_ns=time.time_ns())
    try:
        connection.write(
            "INSERT INTO projects (id, name, created_ns) VALUES (?, ?, ?)",
            [project.id, project.name, project.created_ns],
        )
    except duckdb.ConstraintException:
        raise Conflict(f'A project named "{name}" already exists.') from None
    return project


def list_projects(connection: Connection) -> list[Project]:
    rows = connection.query(f"SELECT {_PROJECT} FROM projects ORDER BY created_ns, id")
    return [Project(**row) for row in rows]


def find_project(connection: Connection, name_or_id: str) -> Project | None:
    rows = connection.query(
        f"SELECT {_PROJECT} FROM projects WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1",
        [name_or_id, name_or_id, name_or_id],
    )
    return Project(**rows[0]) if rows else None


def set_retention(connection: Connection, project_id: str, days: int | None) -> Project | None:
    connection.write("UPDATE projects SET retention_days = ? WHERE id = ?", [days, project_id])
    return find_project(connection, project_id)


def set_session_idle_minutes(
    connection: Connection, project_id: str, minutes: int
) -> Project | None:
    connection.write(
        "UPDATE projects SET session_idle_minutes = ? WHERE id = ?", [minutes, project_id]
    )
    return find_project(connection, project_id)


# -- keys ----------------------------------------------------------------------------
def create_key(
    connection: Connection, project_id: str, name: str, key_hash: str, prefix: str
) -> ApiKey:
    key = ApiKey(
        id=new_id("key"),
        project_id=project_id,
        name=name,
        prefix=prefix,
        created_ns=time.time_ns(),
        revoked_ns=None,
    )
    connection.write(
        "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
        [key.id, key.project_id, key.name, key_hash, key.prefix, key.created_ns],
    )
    return key


def list_keys(connection: Connection, project_id: str | None = None) -> list[ApiKey]:
    sql = f"SELECT {_KEY} FROM api_keys"
    params: list[Any] = []
    if project_id is not None:
        sql += " WHERE project_id = ?"
        params.append(project_id)
    return [ApiKey(**row) for row in connection.query(sql + " ORDER BY created_ns, id", params)]


def revoke_key(connection: Connection, key_id: str) -> ApiKey | None:
    connection.write(
        "UPDATE api_keys SET revoked_ns = ? WHERE id = ? AND revoked_ns IS NULL",
        [time.time_ns(), key_id],
    )
    rows = connection.query(f"SELECT {_KEY} FROM api_keys WHERE id = ?", [key_id])
    return ApiKey(**rows[0]) if rows else None


def project_for_key(connection: Connection, key_hash: str) -> str | None:
    rows = connection.query(
        "SELECT project_id FROM api_keys WHERE key_hash = ? AND revoked_ns IS NULL", [key_hash]
    )
    return str(rows[0]["project_id"]) if rows else None


# -- users ---------------------------------------------------------------------------
def create_user(connection: Connection, email: str, password_hash: str, is_admin: bool) -> User:
    user = User(
        id=new_id("usr"),
        email=email,
        password_hash=password_hash,
        is_admin=is_admin,
        created_ns=time.time_ns(),
    )
    try:
        connection.write(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
            [user.id, user.email, user.password_hash, user.is_admin, user.created_ns],
        )
    except duckdb.ConstraintException:
        raise Conflict(f"A user with the email {email} already exists.") from None
    return user


def find_user(connection: Connection, email_or_id: str) -> User | None:
    rows = connection.query(
        f"SELECT {_USER} FROM users WHERE id = ? OR lower(email) = lower(?) LIMIT 1",
        [email_or_id, email_or_id],
    )
    return User(**rows[0]) if rows else None


def list_users(connection: Connection) -> list[User]:
    rows = connection.query(f"SELECT {_USER} FROM users ORDER BY created_ns")
    return [User(**row) for row in rows]


# -- settings ------------------------------------------------------------------------
def get_setting(connection: Connection, name: str) -> str | None:
    rows = connection.query("SELECT value FROM settings WHERE name = ?", [name])
    return str(rows[0]["value"]) if rows else None


def set_setting(connection: Connection, name: str, value: str) -> None:
    connection.write(
        "INSERT INTO settings VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = ?",
        [name, value, value],
    )
