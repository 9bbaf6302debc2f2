"""The embedded store: one DuckDB file in the data directory.

A write is journaled (appended to a file and synced, :mod:`lamina.store.duckdb.journal`)
and answered; journaled batches are stored in DuckDB in large transactions of
column-wise Arrow appends (never row by row), and always before a read: the
spans, and one summary delta per trace they touch folded into ``traces`` and
``sessions``, so listing sessions or traces never scans spans. A trace keeps the
range of span sequence numbers it covers; reading one trace then touches only
the row groups in that range (DuckDB's zone maps on ``seq``).

:class:`DuckDBStore` composes the package's parts: the connection (opening, cursors,
transactions, checkpoints), the storer (journal, backlog, the thread that stores it,
quarantine hand-off), and plain functions on the connection for the fold, the reads,
the catalog, deletes and export pages.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from lamina.errors import StoreUnavailable
from lamina.spans.batch import ColumnBatch
from lamina.store.base import ApiKey, Deleted, ExportKind, Project, Quarantined, Row, User
from lamina.store.comments import Comment, CommentQuery, StarKind
from lamina.store.console import ConsoleQuery, ConsoleResult
from lamina.store.datasets import Dataset, DatasetItem, ItemQuery
from lamina.store.duckdb import (
    catalog,
    comments,
    export,
    lifecycle,
    metrics,
    reads,
    score_configs,
    scores,
    shares,
)
from lamina.store.duckdb import console as console_sql
from lamina.store.duckdb import datasets as dataset_rows
from lamina.store.duckdb import evaluators as evaluator_rows
from lamina.store.duckdb import labels as labels_of_traces
from lamina.store.duckdb import users as end_users
from lamina.store.duckdb.connection import Connection, one
from lamina.store.duckdb.evaluator_runs import EvaluatorRuns
from lamina.store.duckdb.experiments import ExperimentRows
from lamina.store.duckdb.schema import migrate
from lamina.store.duckdb.score_journal import ScoreWriter
from lamina.store.duckdb.settled import settled as _settled
from lamina.store.duckdb.storer import UNSTORED_LIMIT_SPANS, Storer
from lamina.store.labels import TraceLabels
from lamina.store.metrics import Cell, DistributionQuery, HistogramBucket, MetricQuery
from lamina.store.queries import Page, SessionQuery, TraceQuery
from lamina.store.scores import Score, ScoreConfig, ScoreQuery
from lamina.store.shares import Share
from lamina.store.users import UserPage, UserQuery

DB_FILE = "lamina.duckdb"
log = logging.getLogger("lamina.store")


class DuckDBStore(ExperimentRows, EvaluatorRuns):
    """The Store protocol on a DuckDB file. Safe to share between threads."""

    shared = False  # one process opens the data directory (DuckDB locks the file)

    def __init__(
        self,
        data_dir: Path,
        memory_mb: int = 256,
        threads: int | None = None,
        unstored_limit: int = UNSTORED_LIMIT_SPANS,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_FILE
        self._connection = Connection(self.path, memory_mb, threads)
        try:
            migrate(self._connection.db, self.path)
            # Spans below this seq were stored before long values were kept apart
            # (lamina.store.duckdb.values), and may hold them whole.
            (self._whole_before,) = one(
                self._connection.db.execute("SELECT seq FROM whole_values_before")
            )
            self._storer = Storer(self._connection, data_dir, unstored_limit)
            self._scores = ScoreWriter(self._connection, self._storer.store_lock, data_dir)
            self._configs = score_configs.ConfigCache(self._connection)
        except BaseException:
            self._connection.db.close()
            raise

    # -- spans ------------------------------------------------------------------
    def write_columns(self, batches: Sequence[ColumnBatch]) -> None:
        """Journal column batches (see :mod:`lamina.spans.batch`); once this returns
        they are durable, and every read sees them.

        They are stored in DuckDB later, many writes a transaction (see
        lamina.store.duckdb.storer.STORE_SPANS), or before the next read. A batch whose
        request digest was journaled within the last hour is a client's retry after a
        lost answer: it is skipped, not stored twice.
        """
        self._storer.write(batches)

    @_settled
    def list_sessions(self, project_id: str, query: SessionQuery) -> Page[Row]:
        return reads.list_sessions(self._connection, project_id, query)

    @_settled
    def count_sessions(self, project_id: str, query: SessionQuery, up_to: int) -> int:
        return reads.count_sessions(self._connection, project_id, query, up_to)

    @_settled
    def session_spans(self, project_id: str, session_id: str, limit: int) -> list[Row]:
        return reads.session_spans(self._connection, project_id, session_id, limit)

    @_settled
    def get_session(self, project_id: str, session_id: str) -> Row | None:
        return reads.get_session(self._connection, project_id, session_id)

    @_settled
    def list_traces(self, project_id: str, query: TraceQuery) -> Page[Row]:
        return reads.list_traces(self._connection, project_id, query)

    @_settled
    def metric_series(self, project_id: str, query: MetricQuery) -> dict[str, list[Cell]]:
        return metrics.series(self._connection, project_id, query)

    @_settled
    def metric_distribution(
        self, project_id: str, query: DistributionQuery
    ) -> list[HistogramBucket]:
        return metrics.distribution(self._connection, project_id, query)

    @_settled
    def list_end_users(self, project_id: str, query: UserQuery) -> UserPage:
        return end_users.list_users(self._connection, project_id, query)

    @_settled
    def get_end_user(self, project_id: str, user_id: str) -> Row | None:
        return end_users.get_user(self._connection, project_id, user_id)

    sql_dialect = "duckdb"

    @_settled
    def run_sql(self, project_id: str, query: ConsoleQuery) -> ConsoleResult:
        return console_sql.run(self._connection, project_id, query)

    @_settled
    def get_trace(self, project_id: str, trace_id: str) -> Row | None:
        return reads.get_trace(self._connection, project_id, trace_id, self._whole_before)

    def label_trace(self, project_id: str, trace_id: str, labels: TraceLabels) -> bool:
        # Under the store lock, once what is journaled is stored: the fold of the
        # trace's spans and this change never run at once.
        with self._storer.store_lock:
            self._storer.store_unstored()
            return labels_of_traces.label_trace(self._connection, project_id, trace_id, labels)

    @_settled
    def get_traces(self, project_id: str, trace_ids: Sequence[str]) -> list[Row]:
        return reads.get_traces(self._connection, project_id, trace_ids, self._whole_before)

    @_settled
    def span_value(self, project_id: str, trace_id: str, span_id: str, field: str) -> Row | None:
        return reads.span_value(self._connection, project_id, trace_id, span_id, field)

    @_settled
    def count_spans(self, project_id: str | None = None) -> int:
        return reads.count_spans(self._connection, project_id)

    # -- scores and session ends (lamina.store.duckdb.scores) -------------------------
    def add_scores(self, project_id: str, scores_: Sequence[Score]) -> None:
        """Journal the scores (with those of concurrent calls), durable and seen by any
        read once this returns; stored in DuckDB later (see
        lamina.store.duckdb.score_journal)."""
        self._scores.add(project_id, scores_)

    @_settled
    def list_scores(self, project_id: str, query: ScoreQuery) -> Page[Score]:
        return scores.list_scores(self._connection, project_id, query)

    def delete_score(self, project_id: str, score_id: str) -> Score | None:
        with self._storer.store_lock:
            self._scores.store_journaled()
            return scores.delete_score(self._connection, project_id, score_id)

    # Configs and session ends are written under the store lock: two transactions that
    # change one row at once are a write-write conflict in DuckDB (the second fails).
    def put_score_config(self, project_id: str, config: ScoreConfig) -> ScoreConfig:
        with self._storer.store_lock:
            try:
                return score_configs.put_score_config(self._connection, project_id, config)
            finally:
                self._configs.forget()

    def list_score_configs(self, project_id: str) -> list[ScoreConfig]:
        return self._configs.list(project_id)

    def cached_score_configs(self, project_id: str) -> list[ScoreConfig] | None:
        return self._configs.cached(project_id)

    def delete_score_config(self, project_id: str, name: str) -> ScoreConfig | None:
        with self._storer.store_lock:
            try:
                return score_configs.delete_score_config(self._connection, project_id, name)
            finally:
                self._configs.forget()

    def end_session(self, project_id: str, session_id: str, ended_ns: int) -> None:
        with self._storer.store_lock:
            scores.end_session(self._connection, project_id, session_id, ended_ns)

    def set_session_idle_minutes(self, project_id: str, minutes: int) -> Project | None:
        return catalog.set_session_idle_minutes(self._connection, project_id, minutes)

    # -- comments and bookmarks (lamina.store.duckdb.comments) -----------------------
    @_settled
    def add_comment(self, project_id: str, comment: Comment) -> Comment | None:
        return comments.add_comment(self._connection, project_id, comment)

    @_settled
    def list_comments(self, project_id: str, query: CommentQuery) -> Page[Comment]:
        return comments.list_comments(self._connection, project_id, query)

    def get_comment(self, project_id: str, comment_id: str) -> Comment | None:
        return comments.get_comment(self._connection, project_id, comment_id)

    def delete_comment(self, project_id: str, comment_id: str) -> Comment | None:
        return comments.delete_comment(self._connection, project_id, comment_id)

    @_settled
    def star(
        self, project_id: str, user_id: str, kind: StarKind, target_id: str, starred: bool
    ) -> bool:
        return comments.star(self._connection, project_id, user_id, kind, target_id, starred)

    def starred(
        self, project_id: str, user_id: str, kind: StarKind, ids: Sequence[str]
    ) -> set[str]:
        return comments.starred(self._connection, project_id, user_id, kind, ids)

    # -- share links (lamina.store.duckdb.shares) -----------------------------------------
    def add_share(self, share: Share, token_hash: str) -> None:
        shares.add_share(self._connection, share, token_hash)

    def list_shares(self, project_id: str, now_ns: int) -> list[Share]:
        return shares.list_shares(self._connection, project_id, now_ns)

    def find_share(self, token_hash: str, now_ns: int) -> Share | None:
        return shares.find_share(self._connection, token_hash, now_ns)

    def delete_share(self, project_id: str, share_id_or_hash: str) -> Share | None:
        return shares.delete_share(self._connection, project_id, share_id_or_hash)

    # -- datasets (lamina.store.duckdb.datasets) ---------------------------------------
    def put_dataset(self, project_id: str, dataset: Dataset) -> Dataset:
        return dataset_rows.put_dataset(self._connection, project_id, dataset)

    def list_datasets(self, project_id: str) -> list[Dataset]:
        return dataset_rows.list_datasets(self._connection, project_id)

    def get_dataset(self, project_id: str, name: str) -> Dataset | None:
        return dataset_rows.get_dataset(self._connection, project_id, name)

    def delete_dataset(self, project_id: str, name: str) -> Dataset | None:
        return dataset_rows.delete_dataset(self._connection, project_id, name)

    def put_dataset_items(self, project_id: str, name: str, items: Sequence[DatasetItem]) -> bool:
        return dataset_rows.put_items(self._connection, project_id, name, items)

    def list_dataset_items(self, project_id: str, name: str, query: ItemQuery) -> Page[DatasetItem]:
        return dataset_rows.list_items(self._connection, project_id, name, query)

    def get_dataset_item(self, project_id: str, name: str, item_id: str) -> DatasetItem | None:
        return dataset_rows.get_item(self._connection, project_id, name, item_id)

    def delete_dataset_item(self, project_id: str, name: str, item_id: str) -> DatasetItem | None:
        return dataset_rows.delete_item(self._connection, project_id, name, item_id)

    # -- data lifecycle ---------------------------------------------------------------
    @contextlib.contextmanager
    def _everything_stored(self) -> Iterator[None]:
        """Hold the store lock, with everything journaled stored first: for a change
        that must see (and keep out) every span written before it."""
        with self._storer.store_lock:
            self._storer.store_unstored()
            self._scores.store_journaled()
            yield

    def delete_trace(self, project_id: str, trace_id: str) -> Deleted:
        with self._everything_stored():
            return lifecycle.delete_traces(self._connection, project_id, "trace_id = ?", [trace_id])

    def delete_traces(self, project_id: str, trace_ids: Sequence[str]) -> Deleted:
        if not trace_ids:
            return Deleted(0, 0)
        with self._everything_stored():
            return lifecycle.delete_traces(
                self._connection, project_id, "list_contains(?, trace_id)", [list(trace_ids)]
            )

    def delete_session(self, project_id: str, session_id: str) -> Deleted:
        with self._everything_stored():
            return lifecycle.delete_traces(
                self._connection, project_id, "session_id = ?", [session_id], session_id
            )

    def delete_before(self, project_id: str, before_ns: int) -> Deleted:
        with self._everything_stored():
            evaluator_rows.delete_runs_before(self._connection, project_id, before_ns)
            return lifecycle.delete_traces(self._connection, project_id, "end_ns < ?", [before_ns])

    def delete_project(self, project_id: str) -> Deleted:
        with self._everything_stored():
            try:
                return lifecycle.delete_project(self._connection, project_id)
            finally:
                self._configs.forget()

    def set_retention(self, project_id: str, days: int | None) -> Project | None:
        return catalog.set_retention(self._connection, project_id, days)

    @_settled
    def export_page(
        self,
        project_id: str,
        kind: ExportKind,
        after: str | None = None,
        limit: int = 1000,
        session_id: str | None = None,
        max_bytes: int | None = None,
    ) -> Page[Row]:
        return export.export_page(
            self._connection, project_id, kind, after, limit, session_id, max_bytes
        )

    # -- the health of writes, and entries set aside -----------------------------------
    def write_failure(self) -> str | None:
        """Why acknowledged spans cannot be stored now (None while they can): the
        server's /healthz answers 503 with it."""
        return self._storer.write_failure()

    def quarantined_ids(self) -> list[str]:
        """The ids of the journal entries set aside (see lamina.store.duckdb.quarantine)."""
        return list(self._storer.quarantined)

    def list_quarantined(self) -> list[Quarantined]:
        with self._storer.store_lock:  # never a file being written
            return self._storer.quarantine.entries()

    def retry_quarantined(self, entry_id: str) -> Quarantined:
        """Journal an entry set aside again, then delete its file: stored as any write
        (and set aside again if it still does not fit)."""
        storer = self._storer
        with storer.store_lock:
            found = next((e for e in storer.quarantine.entries() if e.id == entry_id), None)
            batches = storer.quarantine.read(entry_id)
        assert found is not None
        # Recognised as a retry if this runs twice before the file is gone.
        again = [
            ColumnBatch(batch.spans, batch.traces, f"quarantine-{entry_id}-{n}", batch.ipc)
            for n, batch in enumerate(batches)
        ]
        self.write_columns(again)
        with storer.store_lock:
            storer.quarantine.drop(entry_id)
            storer.quarantined = storer.quarantine.ids()
        log.warning("%d spans set aside as entry %s were journaled again", found.spans, entry_id)
        return found

    def drop_quarantined(self, entry_id: str) -> Quarantined:
        """Delete an entry set aside, and its spans with it."""
        storer = self._storer
        with storer.store_lock:
            found = next((e for e in storer.quarantine.entries() if e.id == entry_id), None)
            storer.quarantine.drop(entry_id)
            storer.quarantined = storer.quarantine.ids()
        assert found is not None
        log.warning("%d spans set aside as entry %s were deleted", found.spans, entry_id)
        return found

    # -- projects, keys, users, settings -----------------------------------------------
    def create_project(self, name: str) -> Project:
        return catalog.create_project(self._connection, name)

    def list_projects(self) -> list[Project]:
        return catalog.list_projects(self._connection)

    def find_project(self, name_or_id: str) -> Project | None:
        return catalog.find_project(self._connection, name_or_id)

    def create_key(self, project_id: str, name: str, key_hash: str, prefix: str) -> ApiKey:
        return catalog.create_key(self._connection, project_id, name, key_hash, prefix)

    def list_keys(self, project_id: str | None = None) -> list[ApiKey]:
        return catalog.list_keys(self._connection, project_id)

    def revoke_key(self, key_id: str) -> ApiKey | None:
        return catalog.revoke_key(self._connection, key_id)

    def project_for_key(self, key_hash: str) -> str | None:
        return catalog.project_for_key(self._connection, key_hash)

    def create_user(self, email: str, password_hash: str, is_admin: bool) -> User:
        return catalog.create_user(self._connection, email, password_hash, is_admin)

    def find_user(self, email_or_id: str) -> User | None:
        return catalog.find_user(self._connection, email_or_id)

    def list_users(self) -> list[User]:
        return catalog.list_users(self._connection)

    def get_setting(self, name: str) -> str | None:
        return catalog.get_setting(self._connection, name)

    def set_setting(self, name: str, value: str) -> None:
        catalog.set_setting(self._connection, name, value)

    def close(self) -> None:
        self._storer.stop()
        self._scores.stop()
        with self._storer.store_lock:
            with contextlib.suppress(StoreUnavailable):  # else stored on the next opening
                self._scores.store_journaled()
            self._scores.close()
            self._storer.close()
            self._connection.close()
