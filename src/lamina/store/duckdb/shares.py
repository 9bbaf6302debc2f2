"""Share links in the DuckDB store (see lamina.store.shares): a small table keyed by
the token's hash, each change one statement committed on its own (as the catalog,
lamina.store.duckdb.catalog); deletes of sessions, traces and projects take their
shares in their own transaction (lamina.store.duckdb.lifecycle)."""

from __future__ import annotations

from typing import Any

import duckdb

from lamina.store.duckdb.connection import Connection
from lamina.store.shares import Share, ShareKind

_FIELDS = "share_id, project_id, kind, object_id, redact_attributes, author, created_ns, expires_ns"


def _share(row: dict[str, Any]) -> Share:
    return Share(**{**row, "kind": ShareKind(row["kind"])})


def add_share(connection: Connection, share: Share, token_hash: str) -> None:
    connection.write(
        f"INSERT INTO shares (token_hash, {_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            token_hash,
            share.share_id,
            share.project_id,
            share.kind.value,
            share.object_id,
            share.redact_attributes,
            share.author,
            share.created_ns,
            share.expires_ns,
        ],
    )


def list_shares(connection: Connection, project_id: str, now_ns: int) -> list[Share]:
    rows = connection.query(
        f"SELECT {_FIELDS} FROM shares WHERE project_id = ? AND expires_ns > ? "
        "ORDER BY created_ns DESC, share_id DESC",
        [project_id, now_ns],
    )
    return [_share(row) for row in rows]


def find_share(connection: Connection, token_hash: str, now_ns: int) -> Share | None:
    rows = connection.query(
        f"SELECT {_FIELDS} FROM shares WHERE token_hash = ? AND expires_ns > ?",
        [token_hash, now_ns],
    )
    return _share(rows[0]) if rows else None


def delete_share(connection: Connection, project_id: str, share_id_or_hash: str) -> Share | None:
    where = "project_id = ? AND (share_id = ? OR token_hash = ?)"
    params = [project_id, share_id_or_hash, share_id_or_hash]
    rows = connection.query(f"SELECT {_FIELDS} FROM shares WHERE {where}", params)
    if not rows:
        return None
    connection.write(f"DELETE FROM shares WHERE {where}", params)
    return _share(rows[0])


def delete_of_session(con: duckdb.DuckDBPyConnection, project_id: str, session_id: str) -> None:
    """The session's shares (in the caller's transaction)."""
    con.execute(
        "DELETE FROM shares WHERE project_id = ? AND kind = 'session' AND object_id = ?",
        [project_id, session_id],
    )


def delete_of_traces(con: duckdb.DuckDBPyConnection, project_id: str) -> None:
    """The shares of the traces being deleted (the temp table ``doomed``)."""
    con.execute(
        "DELETE FROM shares WHERE project_id = ? AND kind = 'trace' "
        "AND object_id IN (SELECT trace_id FROM doomed)",
        [project_id],
    )
