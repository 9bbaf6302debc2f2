"""The scale-out store: ClickHouse, shared by any number of stateless servers.

The same SQL runs on a ClickHouse server through ``clickhouse-connect``
(``--store clickhouse://...``) or in-process on chDB (``--store chdb:///PATH``);
see :mod:`lamina.store.clickhouse.client`. The schema and why it is shaped so
are in :mod:`lamina.store.clickhouse.schema`.

An ingest batch is four statements, none of which reads before it writes
except the last: the spans (Arrow), the batch's per-trace deltas (Arrow), the
session index, and one ``INSERT ... SELECT`` that recomputes the sessions the
batch touched. Nothing is kept in memory that another server would need:
projects, keys, users and settings are rows in the same database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pyarrow as pa

from lamina.errors import (
    BadRequest,
    ConfigError,
    Conflict,
    InvalidCursor,
    NotFound,
    StoreUnavailable,
)
from lamina.query.params import Page, SessionQuery, TraceQuery
from lamina.spans.batch import ColumnBatch, combine, to_columns
from lamina.spans.record import SpanRecord
from lamina.store.base import ApiKey, Deleted, Project, Quarantined, Row, User
from lamina.store.clickhouse import sql
from lamina.store.clickhouse.client import (
    Client,
    ClientError,
    StoreAddress,
    connect,
)
from lamina.store.clickhouse.rows import session_links, trace_row, trace_rows
from lamina.store.clickhouse.schema import MIGRATIONS, SCHEMA_TABLE, SCHEMA_VERSION
from lamina.store.rows import (
    LARGE_FIELDS,
    cut_span_row,
    new_id,
    outline_row,
    page,
    session_row,
    span_row,
    whole_value,
)

_PROJECT = "id, name, created_ns, retention_days"
_DELETE_CHUNK = 5_000
RETRY_WINDOW_NS = 3600 * 1_000_000_000  # as long as the DuckDB store remembers a request


class ClickHouseStore:
    """The Store protocol on ClickHouse. Safe to share between threads."""

    # Other processes (servers) may write the same database at the same moment:
    # code that makes a value once per store (the cookie secret) waits for theirs.
    shared = True

    def __init__(self, address: StoreAddress, client: Client | None = None) -> None:
        self.address = address
        self._client = client if client is not None else connect(address)
        self._write_lock = threading.Lock()
        self._clock_lock = threading.Lock()
        self._last_tick = 0
        try:
            self._migrate()
        except ClientError as exc:
            self._client.close()
            raise ConfigError(
                f"Cannot prepare the ClickHouse store at {address.describe()}: {exc}"
            ) from None

    # -- plumbing ----------------------------------------------------------------------------------
    def _tick(self, count: int = 1) -> int:
        """A number above every earlier one from this process, near the clock in ns."""
        with self._clock_lock:
            now = max(time.time_ns(), self._last_tick + 1)
            self._last_tick = now + count - 1
            return now

    def _query(self, text: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            rows: list[dict[str, Any]] = self._client.query(text, params).to_pylist()
        except ClientError as exc:
            raise StoreUnavailable(
                f"The ClickHouse store did not answer ({exc}). Check that ClickHouse is up."
            ) from exc
        return rows

    def _execute(self, text: str, params: dict[str, Any] | None = None) -> None:
        try:
            self._client.execute(text, params)
        except ClientError as exc:
            raise StoreUnavailable(
                f"The ClickHouse store did not answer ({exc}). Check that ClickHouse is up."
            ) from exc

    def _insert(self, table: str, data: pa.Table) -> None:
        try:
            self._client.insert_arrow(table, data)
        except ClientError as exc:
            raise StoreUnavailable(
                f"The ClickHouse store could not save spans ({exc}). Check that ClickHouse "
                "is up and has disk space; senders should retry."
            ) from exc

    def _migrate(self) -> None:
        client = self._client
        client.execute(f"CREATE DATABASE IF NOT EXISTS {self.address.database}")
        client.use(self.address.database)
        client.execute(SCHEMA_TABLE)
        current = int(client.query("SELECT max(version) AS v FROM schema_version").column(0)[0])
        if current > SCHEMA_VERSION:
            raise ConfigError(
                f"The ClickHouse database {self.address.describe()} was written by a newer "
                f"Lamina (schema version {current}; this release knows up to "
                f"{SCHEMA_VERSION}). Upgrade Lamina, or use another database."
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                client.execute(statement)
            client.execute(
                "INSERT INTO schema_version VALUES ({v:Int64}, {t:Int64})",
                {"v": version, "t": time.time_ns()},
            )

    # -- spans -------------------------------------------------------------------------------------
    def write_spans(self, records: Sequence[SpanRecord]) -> None:
        self.write_columns([to_columns(records)])

    def write_columns(self, batches: Sequence[ColumnBatch]) -> None:
        """Spans, trace deltas, the session index, then the touched sessions' summaries.

        Each is one insert; a batch whose later insert fails is reported (the sender
        retries) and may leave its spans counted twice: at least once, never lost.
        """
        with self._write_lock:
            batches, digests = self._new_requests(batches)
            count = sum(batch.count for batch in batches)
            if not count:
                return
            batch = combine(batches, self._tick(count))
            traces = trace_rows(batch.traces, batch.spans)
            links = session_links(batch.traces)
            keys = sorted(
                set(
                    zip(
                        batch.traces.column("project_id").to_pylist(),
                        batch.traces.column("trace_id").to_pylist(),
                        strict=True,
                    )
                )
            )
            self._insert("spans", batch.spans)
            self._insert("traces", traces)
            if links.num_rows:
                self._insert("session_traces", links)
            if digests.num_rows:
                self._insert("request_digests", digests)
            try:
                self._client.execute(sql.REFRESH_AFTER_WRITE, {"keys": keys})
            except ClientError as exc:
                raise StoreUnavailable(
                    f"The ClickHouse store could not update sessions ({exc}); senders should retry."
                ) from exc

    def _new_requests(self, batches: Sequence[ColumnBatch]) -> tuple[list[ColumnBatch], pa.Table]:
        """The batches whose request was not committed in the last hour (by any
        server), and the digests to record for them."""
        keyed = {
            (batch.spans.column("project_id")[0].as_py(), batch.digest): batch
            for batch in batches
            if batch.digest is not None and batch.count
        }
        known: set[tuple[str, str]] = set()
        if keyed:
            rows = self._query(
                "SELECT project_id, digest FROM request_digests "
                "WHERE (project_id, digest) IN {keys:Array(Tuple(String, String))} "
                "AND at_ns >= {horizon:Int64}",
                {"keys": list(keyed), "horizon": time.time_ns() - RETRY_WINDOW_NS},
            )
            known = {(row["project_id"], row["digest"]) for row in rows}
        fresh: list[ColumnBatch] = []
        seen: set[tuple[str, str]] = set()
        for batch in batches:
            if batch.digest is None or not batch.count:
                fresh.append(batch)
                continue
            key = (batch.spans.column("project_id")[0].as_py(), batch.digest)
            if key not in known and key not in seen:
                seen.add(key)
                fresh.append(batch)
        now = time.time_ns()
        digests = pa.table(
            {
                "project_id": [key[0] for key in seen],
                "digest": [key[1] for key in seen],
                "at_ns": pa.array([now] * len(seen), pa.int64()),
            }
        )
        return fresh, digests

    def list_sessions(self, project_id: str, query: SessionQuery) -> Page[Row]:
        text, params = sql.list_sessions(project_id, query)
        rows = [session_row(row) for row in self._query(text, params)]
        return page(rows, query.limit, query.sort, "session_id")

    def count_sessions(self, project_id: str, query: SessionQuery, up_to: int) -> int:
        text, params = sql.count_sessions(project_id, query, up_to)
        rows = self._query(text, params)
        return int(rows[0]["n"]) if rows else 0

    def session_spans(self, project_id: str, session_id: str, limit: int) -> list[Row]:
        params: dict[str, Any] = {"project": project_id, "session": session_id}
        traces = self._query(sql.SESSION_TRACE_BOUNDS, params)
        if not traces:
            return []
        params["first"] = min(row["start_ns"] for row in traces)
        params["last"] = max(row["last_ns"] for row in traces)
        params["traces"] = [row["trace_id"] for row in traces]
        params["limit"] = limit
        return [outline_row(row) for row in self._query(sql.SESSION_SPANS, params)]

    def get_session(self, project_id: str, session_id: str) -> Row | None:
        params = {"project": project_id, "session": session_id}
        rows = self._query(sql.one_session(), params)
        if not rows:
            return None
        session = session_row(rows[0])
        traces = self._query(sql.session_traces(), params)
        session["traces"] = [trace_row(row) for row in traces]
        return session

    def list_traces(self, project_id: str, query: TraceQuery) -> Page[Row]:
        text, params = sql.list_traces(project_id, query)
        rows = [trace_row(row) for row in self._query(text, params)]
        return page(rows, query.limit, query.sort, "trace_id")

    def get_trace(self, project_id: str, trace_id: str) -> Row | None:
        params: dict[str, Any] = {"project": project_id, "trace": trace_id}
        rows = self._query(sql.one_trace(), params)
        if not rows:
            return None
        row = rows[0]
        params["first"] = row["start_ns"]
        params["last"] = max(row["end_ns"], row["last_start_ns"])
        spans = self._query(sql.ONE_TRACE_CUT_SPANS, params)
        trace = trace_row(row)
        trace["spans"] = [cut_span_row(span) for span in spans]
        return trace

    def span_value(self, project_id: str, trace_id: str, span_id: str, field: str) -> Row | None:
        if field not in LARGE_FIELDS:
            return None
        params: dict[str, Any] = {"project": project_id, "trace": trace_id, "span": span_id}
        rows = self._query(sql.one_trace(), params)
        if not rows:
            return None
        params["first"] = rows[0]["start_ns"]
        params["last"] = max(rows[0]["end_ns"], rows[0]["last_start_ns"])
        found = self._query(sql.one_span_value(field), params)
        if not found:
            return None
        value = whole_value(field, found[0]["value"])
        return {"trace_id": trace_id, "span_id": span_id, "field": field, "value": value}

    def count_spans(self, project_id: str | None = None) -> int:
        if project_id is None:
            rows = self._query("SELECT count() AS n FROM spans")
        else:
            rows = self._query(
                "SELECT count() AS n FROM spans WHERE project_id = {project:String}",
                {"project": project_id},
            )
        return int(rows[0]["n"])

    # -- data lifecycle ----------------------------------------------------------------------------
    # ClickHouse has no multi-table transactions: a delete is several lightweight
    # DELETEs (each visible at once) and a refresh. One that fails part-way is
    # reported; running it again finishes it.
    def delete_trace(self, project_id: str, trace_id: str) -> Deleted:
        narrow = " AND trace_id = {trace:String}"
        return self._delete_traces(project_id, narrow, "1", {"trace": trace_id})

    def delete_session(self, project_id: str, session_id: str) -> Deleted:
        where = "session_id = {session:String}"
        return self._delete_traces(project_id, sql.IN_SESSION, where, {"session": session_id})

    def delete_before(self, project_id: str, before_ns: int) -> Deleted:
        return self._delete_traces(project_id, "", "end_ns < {before:Int64}", {"before": before_ns})

    def _delete_traces(
        self, project_id: str, narrow: str, where: str, params: dict[str, Any]
    ) -> Deleted:
        with self._write_lock:
            doomed = self._query(
                sql.doomed_traces(narrow, where), {"project": project_id, **params}
            )
            spans = 0
            touched: set[str] = set()
            for start in range(0, len(doomed), _DELETE_CHUNK):
                chunk = doomed[start : start + _DELETE_CHUNK]
                chunk_params = {
                    "project": project_id,
                    "ids": [row["trace_id"] for row in chunk],
                    "low": min(row["start_ns"] for row in chunk),
                    "high": max(row["last_ns"] for row in chunk),
                }
                in_chunk = "project_id = {project:String} AND trace_id IN {ids:Array(String)}"
                of_spans = f"{in_chunk} AND start_ns BETWEEN {{low:Int64}} AND {{high:Int64}}"
                counted = self._query(
                    f"SELECT count() AS n FROM spans WHERE {of_spans}", chunk_params
                )
                spans += int(counted[0]["n"])
                self._execute(f"DELETE FROM spans WHERE {of_spans}", chunk_params)
                self._execute(f"DELETE FROM traces WHERE {in_chunk}", chunk_params)
                self._execute(f"DELETE FROM session_traces WHERE {in_chunk}", chunk_params)
                for row in chunk:
                    touched.update(row["sessions_named"])
            names = sorted(touched)
            for start in range(0, len(names), _DELETE_CHUNK):
                self._execute(
                    sql.REFRESH_SESSIONS,
                    {"project": project_id, "sessions": names[start : start + _DELETE_CHUNK]},
                )
        return Deleted(len(doomed), spans)

    def delete_project(self, project_id: str) -> Deleted:
        params = {"project": project_id}
        with self._write_lock:
            traces = self._query(
                "SELECT uniqExact(trace_id) AS n FROM traces WHERE project_id = {project:String}",
                params,
            )[0]["n"]
            spans = self.count_spans(project_id)
            tables = (
                "spans",
                "traces",
                "session_traces",
                "sessions",
                "api_keys",
                "request_digests",
            )
            for table in tables:
                self._execute(f"DELETE FROM {table} WHERE project_id = {{project:String}}", params)
            self._execute("DELETE FROM projects WHERE id = {project:String}", params)
        return Deleted(int(traces), spans)

    def set_retention(self, project_id: str, days: int | None) -> Project | None:
        self._execute(
            "ALTER TABLE projects UPDATE retention_days = {days:Nullable(Int32)} "
            "WHERE id = {project:String} SETTINGS mutations_sync = 2",
            {"project": project_id, "days": days},
        )
        found = self.find_project(project_id)
        return found if found is not None and found.id == project_id else None

    def export_page(
        self,
        project_id: str,
        kind: str,
        after: str | None = None,
        limit: int = 1000,
        session_id: str | None = None,
        max_bytes: int | None = None,
    ) -> Page[Row]:
        params: dict[str, Any] = {"project": project_id, "limit": limit + 1}
        if session_id is not None:
            params["session"] = session_id
        if kind == "spans":
            return self._export_spans(params, after, limit, session_id is not None, max_bytes)
        if kind == "traces":
            narrow = sql.IN_SESSION if session_id is not None else ""
            where = "session_id = {session:String}" if session_id is not None else "1"
            if after is not None:
                narrow += " AND trace_id > {after:String}"
                params["after"] = after
            text = (
                f"SELECT {sql.TRACE_FIELDS} FROM ({sql.trace_aggregate(narrow)}) "
                f"WHERE {where} ORDER BY trace_id LIMIT {{limit:UInt32}}"
            )
            key, convert = "trace_id", trace_row
        elif kind == "sessions":
            narrow = " AND session_id = {session:String}" if session_id is not None else ""
            if after is not None:
                narrow += " AND session_id > {after:String}"
                params["after"] = after
            text = (
                f"SELECT * FROM ({sql.sessions_view(narrow)}) WHERE trace_count > 0 "
                "ORDER BY session_id LIMIT {limit:UInt32}"
            )
            key, convert = "session_id", session_row
        else:
            raise BadRequest(f"Cannot export {kind!r}: choose sessions, traces or spans.")
        rows = self._query(text, params)
        cursor = str(rows[limit - 1][key]) if len(rows) > limit else None
        return Page([convert(row) for row in rows[:limit]], cursor)

    def _export_spans(
        self,
        params: dict[str, Any],
        after: str | None,
        limit: int,
        of_session: bool,
        max_bytes: int | None,
    ) -> Page[Row]:
        where = sql.EXPORT_SPANS_OF_SESSION if of_session else ""
        if after is not None:
            start, _, rest = after.partition("/")
            trace, _, span = rest.partition("/")
            if not start.lstrip("-").isdigit() or not trace or not span:
                raise InvalidCursor(f"Not a cursor of a spans export: {after!r}.")
            where += sql.EXPORT_SPANS_AFTER
            params.update(after_ns=int(start), after_trace=trace, after_span=span)
        ends: dict[str, Any] | None = None
        if max_bytes is not None:  # first the sizes, then only the spans that fit
            sizes = self._query(sql.EXPORT_SPAN_SIZES.replace("{where}", where), params)
            cut, used = 0, 0
            for row in sizes[:limit]:
                if cut and used + row["size"] > max_bytes:
                    break
                used += row["size"]
                cut += 1
            if cut == 0:
                return Page([], None)
            ends = sizes[cut - 1]
            where += sql.EXPORT_SPANS_UP_TO
            params.update(last_ns=ends["start_ns"], last_trace=ends["trace_id"])
            params["last_span"] = ends["span_id"]
            if cut == len(sizes):
                ends = None  # nothing after it
            limit = cut
        rows = self._query(sql.EXPORT_SPANS.replace("{where}", where), params)
        if max_bytes is None and len(rows) > limit:
            ends = rows[limit - 1]
        cursor = None
        if ends is not None:
            cursor = f"{ends['start_ns']}/{ends['trace_id']}/{ends['span_id']}"
        return Page([span_row(row) for row in rows[:limit]], cursor)

    # -- projects and keys -------------------------------------------------------------------------
    def create_project(self, name: str) -> Project:
        if self._project_named(name) is not None:
            raise Conflict(f'A project named "{name}" already exists.')
        project = Project(id=new_id("prj"), name=name, created_ns=self._tick())
        self._execute(
            "INSERT INTO projects (name, id, created_ns, version) "
            "VALUES ({name:String}, {id:String}, {created:Int64}, {version:Int64})",
            {
                "name": name,
                "id": project.id,
                "created": project.created_ns,
                "version": -project.created_ns,
            },
        )
        winner = self._project_named(name)  # two servers at once: the earlier one wins
        if winner is None or winner.id != project.id:
            raise Conflict(f'A project named "{name}" already exists.')
        return project

    def _project_named(self, name: str) -> Project | None:
        rows = self._query(
            f"SELECT {_PROJECT} FROM projects FINAL WHERE name = {{name:String}}",
            {"name": name},
        )
        return Project(**rows[0]) if rows else None

    def list_projects(self) -> list[Project]:
        rows = self._query(f"SELECT {_PROJECT} FROM projects FINAL ORDER BY created_ns, id")
        return [Project(**row) for row in rows]

    def find_project(self, name_or_id: str) -> Project | None:
        rows = self._query(
            f"SELECT {_PROJECT} FROM projects FINAL "
            "WHERE id = {x:String} OR name = {x:String} ORDER BY id = {x:String} DESC LIMIT 1",
            {"x": name_or_id},
        )
        return Project(**rows[0]) if rows else None

    _KEY_FIELDS = "id, project_id, name, prefix, created_ns, revoked_ns"

    def create_key(self, project_id: str, name: str, key_hash: str, prefix: str) -> ApiKey:
        key = ApiKey(
            id=new_id("key"),
            project_id=project_id,
            name=name,
            prefix=prefix,
            created_ns=self._tick(),
            revoked_ns=None,
        )
        self._put_key(key, key_hash, key.created_ns)
        return key

    def _put_key(self, key: ApiKey, key_hash: str, version: int) -> None:
        self._execute(
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

    def list_keys(self, project_id: str | None = None) -> list[ApiKey]:
        text = f"SELECT {self._KEY_FIELDS} FROM api_keys FINAL"
        params: dict[str, Any] = {}
        if project_id is not None:
            text += " WHERE project_id = {project:String}"
            params["project"] = project_id
        rows = self._query(text + " ORDER BY created_ns, id", params)
        return [ApiKey(**row) for row in rows]

    def revoke_key(self, key_id: str) -> ApiKey | None:
        rows = self._query(
            f"SELECT key_hash, {self._KEY_FIELDS} FROM api_keys FINAL WHERE id = {{id:String}}",
            {"id": key_id},
        )
        if not rows:
            return None
        key_hash = rows[0].pop("key_hash")
        key = ApiKey(**rows[0])
        if key.revoked_ns is not None:
            return key
        now = self._tick()
        revoked = replace(key, revoked_ns=now)
        self._put_key(revoked, key_hash, now)
        return revoked

    def project_for_key(self, key_hash: str) -> str | None:
        rows = self._query(
            "SELECT project_id, revoked_ns FROM api_keys FINAL WHERE key_hash = {hash:String}",
            {"hash": key_hash},
        )
        if not rows or rows[0]["revoked_ns"] is not None:
            return None
        return str(rows[0]["project_id"])

    # -- users -------------------------------------------------------------------------------------
    _USER_FIELDS = "id, email, password_hash, is_admin, created_ns"

    def create_user(self, email: str, password_hash: str, is_admin: bool) -> User:
        if self._user_with_email(email) is not None:
            raise Conflict(f"A user with the email {email} already exists.")
        user = User(
            id=new_id("usr"),
            email=email,
            password_hash=password_hash,
            is_admin=is_admin,
            created_ns=self._tick(),
        )
        self._execute(
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
        winner = self._user_with_email(email)
        if winner is None or winner.id != user.id:
            raise Conflict(f"A user with the email {email} already exists.")
        return user

    def _user_with_email(self, email: str) -> User | None:
        rows = self._query(
            f"SELECT {self._USER_FIELDS} FROM users FINAL WHERE email_key = lower({{e:String}})",
            {"e": email},
        )
        return User(**rows[0]) if rows else None

    def find_user(self, email_or_id: str) -> User | None:
        rows = self._query(
            f"SELECT {self._USER_FIELDS} FROM users FINAL "
            "WHERE id = {x:String} OR email_key = lower({x:String}) LIMIT 1",
            {"x": email_or_id},
        )
        return User(**rows[0]) if rows else None

    def list_users(self) -> list[User]:
        rows = self._query(
            f"SELECT {self._USER_FIELDS} FROM users FINAL ORDER BY created_ns, id",
        )
        return [User(**row) for row in rows]

    # -- settings ----------------------------------------------------------------------------------
    def get_setting(self, name: str) -> str | None:
        rows = self._query(
            "SELECT value FROM settings FINAL WHERE name = {name:String}", {"name": name}
        )
        return str(rows[0]["value"]) if rows else None

    def set_setting(self, name: str, value: str) -> None:
        self._execute(
            "INSERT INTO settings VALUES ({name:String}, {value:String}, {version:Int64})",
            {"name": name, "value": value, "version": self._tick()},
        )

    # -- writes set aside: ClickHouse stores each write as it comes (no journal) ------------
    def write_failure(self) -> str | None:
        return None

    def quarantined_ids(self) -> list[str]:
        return []

    def list_quarantined(self) -> list[Quarantined]:
        return []

    def retry_quarantined(self, entry_id: str) -> Quarantined:
        raise NotFound("A ClickHouse store sets no writes aside: there is nothing to retry.")

    def drop_quarantined(self, entry_id: str) -> Quarantined:
        raise NotFound("A ClickHouse store sets no writes aside: there is nothing to drop.")

    def close(self) -> None:
        with self._write_lock:
            self._client.close()
