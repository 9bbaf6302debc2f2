"""Share links in the ClickHouse store (see lamina.store.shares): a small table keyed
by the token's hash, so a visit reads one granule; a revoke is a lightweight DELETE
(seen at once by every server), as are the shares of a deleted session, trace or
project (lamina.store.clickhouse.lifecycle)."""

from __future__ import annotations

from typing import Any

from lamina.store.clickhouse.connection import Connection
from lamina.store.shares import Share, ShareKind

_FIELDS = "share_id, project_id, kind, object_id, redact_attributes, author, created_ns, expires_ns"


def _share(row: dict[str, Any]) -> Share:
    return Share(
        **{
            **row,
            "kind": ShareKind(row["kind"]),
            "redact_attributes": bool(row["redact_attributes"]),
        }
    )


def add_share(db: Connection, share: Share, token_hash: str) -> None:
    db.execute(
        f"INSERT INTO shares (token_hash, {_FIELDS}) VALUES ({{hash:String}}, {{id:String}}, "
        "{project:String}, {kind:String}, {object:String}, {redact:Bool}, "
        "{author:Nullable(String)}, {created:Int64}, {expires:Int64})",
        {
            "hash": token_hash,
            "id": share.share_id,
            "project": share.project_id,
            "kind": share.kind.value,
            "object": share.object_id,
            "redact": int(share.redact_attributes),
            "author": share.author,
            "created": share.created_ns,
            "expires": share.expires_ns,
        },
    )


def list_shares(db: Connection, project_id: str, now_ns: int) -> list[Share]:
    rows = db.query(
        f"SELECT {_FIELDS} FROM shares "
        "WHERE project_id = {project:String} AND expires_ns > {now:Int64} "
        "ORDER BY created_ns DESC, share_id DESC",
        {"project": project_id, "now": now_ns},
    )
    return [_share(row) for row in rows]


def find_share(db: Connection, token_hash: str, now_ns: int) -> Share | None:
    rows = db.query(
        f"SELECT {_FIELDS} FROM shares "
        "WHERE token_hash = {hash:String} AND expires_ns > {now:Int64} LIMIT 1",
        {"hash": token_hash, "now": now_ns},
    )
    return _share(rows[0]) if rows else None


def delete_share(db: Connection, project_id: str, share_id_or_hash: str) -> Share | None:
    where = (
        "project_id = {project:String} AND (share_id = {key:String} OR token_hash = {key:String})"
    )
    params = {"project": project_id, "key": share_id_or_hash}
    rows = db.query(f"SELECT {_FIELDS} FROM shares WHERE {where} LIMIT 1", params)
    if not rows:
        return None
    db.execute(f"DELETE FROM shares WHERE {where}", params)
    return _share(rows[0])


def forget(db: Connection, project_id: str, kind: ShareKind, object_ids: list[str]) -> None:
    """The shares of deleted sessions or traces."""
    if object_ids:
        db.execute(
            "DELETE FROM shares WHERE project_id = {project:String} AND kind = {kind:String} "
            "AND object_id IN {ids:Array(String)}",
            {"project": project_id, "kind": kind.value, "ids": object_ids},
        )
