"""The scale-out store: ClickHouse, shared by any number of stateless servers.

The same SQL runs on a ClickHouse server through ``clickhouse-connect``
(``--store clickhouse://...``) or in-process on chDB (``--store chdb:///PATH``);
see :mod:`lamina.store.clickhouse.client`. The schema and why it is shaped so
are in :mod:`lamina.store.clickhouse.schema`.

:class:`ClickHouseStore` is the Store protocol, each call handed to the module
that does it, all on one :class:`~lamina.store.clickhouse.connection.Connection`:

- ``writer``: ingest writes (spans, trace deltas, the session index, the
  refresh of the sessions a batch touched); ``fold``: how the deltas and the
  session refresh are shaped;
- ``reads`` (with its SQL in ``sql``): sessions, traces, spans, lists;
- ``lifecycle``: deletes and retention; ``export``: pages of stored rows;
- ``catalog``: projects, keys, users and settings, rows in the same database,
  so nothing is kept in memory that another server would need;
- ``scores`` (with its SQL in ``score_sql``): scores, their configs, the end of
  sessions; ``comments``: comments and each user's stars;
- ``metrics``: metrics over time and distributions (the dashboard).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager

from lamina.errors import NotFound
from lamina.spans.batch import ColumnBatch
from lamina.store.base import ApiKey, Deleted, ExportKind, Project, Quarantined, Row, User
from lamina.store.clickhouse import (
    catalog,
    check_reads,
    comments,
    export,
    lifecycle,
    metrics,
    reads,
    shares,
    writer,
)
from lamina.store.clickhouse import console as console_sql
from lamina.store.clickhouse import datasets as dataset_rows
from lamina.store.clickhouse import evaluators as evaluator_rows
from lamina.store.clickhouse import experiments as experiment_rows
from lamina.store.clickhouse import labels as labels_of_traces
from lamina.store.clickhouse import scores as score_store
from lamina.store.clickhouse import users as end_users
from lamina.store.clickhouse.client import Client, StoreAddress
from lamina.store.clickhouse.connection import Connection
from lamina.store.comments import Comment, CommentQuery, StarKind
from lamina.store.console import ConsoleQuery, ConsoleResult
from lamina.store.datasets import Dataset, DatasetItem, ItemQuery
from lamina.store.evaluators import Evaluator, Progress, Quiet, Run, RunQuery
from lamina.store.experiments import Experiment, ExperimentItem
from lamina.store.labels import TraceLabels
from lamina.store.metrics import Cell, DistributionQuery, HistogramBucket, MetricQuery
from lamina.store.queries import Page, SessionQuery, TraceQuery
from lamina.store.scores import Score, ScoreConfig, ScoreQuery
from lamina.store.shares import Share
from lamina.store.users import UserPage, UserQuery


class ClickHouseStore:
    """The Store protocol on ClickHouse. Safe to share between threads."""

    shared = True  # other servers may write the same database at the same moment

    def __init__(self, address: StoreAddress, client: Client | None = None) -> None:
        self.address = address
        self.connection = Connection(address, client)

    # -- spans -----------------------------------------------------------------------------------
    def write_columns(self, batches: Sequence[ColumnBatch]) -> None:
        writer.write_columns(self.connection, batches)

    def list_sessions(self, project_id: str, query: SessionQuery) -> Page[Row]:
        return reads.list_sessions(self.connection, project_id, query)

    def count_sessions(self, project_id: str, query: SessionQuery, up_to: int) -> int:
        return reads.count_sessions(self.connection, project_id, query, up_to)

    def session_spans(self, project_id: str, session_id: str, limit: int) -> list[Row]:
        return reads.session_spans(self.connection, project_id, session_id, limit)

    def get_session(self, project_id: str, session_id: str) -> Row | None:
        return reads.get_session(self.connection, project_id, session_id)

    def list_traces(self, project_id: str, query: TraceQuery) -> Page[Row]:
        return reads.list_traces(self.connection, project_id, query)

    def metric_series(self, project_id: str, query: MetricQuery) -> dict[str, list[Cell]]:
        return metrics.series(self.connection, project_id, query)

    def metric_distribution(
        self, project_id: str, query: DistributionQuery
    ) -> list[HistogramBucket]:
        return metrics.distribution(self.connection, project_id, query)

    sql_dialect = "clickhouse"

    def run_sql(self, project_id: str, query: ConsoleQuery) -> ConsoleResult:
        return console_sql.run(self.connection, project_id, query)

    def list_end_users(self, project_id: str, query: UserQuery) -> UserPage:
        return end_users.list_users(self.connection, project_id, query)

    def get_end_user(self, project_id: str, user_id: str) -> Row | None:
        return end_users.get_user(self.connection, project_id, user_id)

    def get_trace(self, project_id: str, trace_id: str) -> Row | None:
        return reads.get_trace(self.connection, project_id, trace_id)

    def label_trace(self, project_id: str, trace_id: str, labels: TraceLabels) -> bool:
        return labels_of_traces.label_trace(self.connection, project_id, trace_id, labels)

    def get_traces(self, project_id: str, trace_ids: Sequence[str]) -> list[Row]:
        return reads.get_traces(self.connection, project_id, trace_ids)

    def check_traces(
        self,
        project_id: str,
        trace_ids: Sequence[str],
        payloads: Sequence[str] = ("input", "output"),
        spans_of: Collection[str] | None = None,
    ) -> list[Row]:
        return check_reads.check_traces(self.connection, project_id, trace_ids, payloads, spans_of)

    def check_sessions(
        self,
        project_id: str,
        session_ids: Sequence[str],
        payloads: Sequence[str] = ("input", "output"),
        spans_of: Collection[str] | None = None,
        most_turns: int = 200,
    ) -> dict[str, list[Row]]:
        return check_reads.check_sessions(
            self.connection, project_id, session_ids, payloads, spans_of, most_turns
        )

    def span_value(self, project_id: str, trace_id: str, span_id: str, field: str) -> Row | None:
        return reads.span_value(self.connection, project_id, trace_id, span_id, field)

    def count_spans(self, project_id: str | None = None) -> int:
        return reads.count_spans(self.connection, project_id)

    # -- scores and session outcomes -------------------------------------------------------------
    def add_scores(self, project_id: str, scores: Sequence[Score]) -> None:
        score_store.add_scores(self.connection, project_id, scores)

    def list_scores(self, project_id: str, query: ScoreQuery) -> Page[Score]:
        return score_store.list_scores(self.connection, project_id, query)

    def delete_score(self, project_id: str, score_id: str) -> Score | None:
        return score_store.delete_score(self.connection, project_id, score_id)

    def put_score_config(self, project_id: str, config: ScoreConfig) -> ScoreConfig:
        return score_store.put_score_config(self.connection, project_id, config)

    def list_score_configs(self, project_id: str) -> list[ScoreConfig]:
        return score_store.list_score_configs(self.connection, project_id)

    def cached_score_configs(self, project_id: str) -> list[ScoreConfig] | None:
        # Not kept: another process (a worker of --workers N, a second server on the
        # same ClickHouse) may change them.
        return None

    def delete_score_config(self, project_id: str, name: str) -> ScoreConfig | None:
        return score_store.delete_score_config(self.connection, project_id, name)

    def end_session(self, project_id: str, session_id: str, ended_ns: int) -> None:
        score_store.end_session(self.connection, project_id, session_id, ended_ns)

    def set_session_idle_minutes(self, project_id: str, minutes: int) -> Project | None:
        return score_store.set_session_idle_minutes(self.connection, project_id, minutes)

    # -- comments and bookmarks ------------------------------------------------------------------
    def add_comment(self, project_id: str, comment: Comment) -> Comment | None:
        return comments.add_comment(self.connection, project_id, comment)

    def list_comments(self, project_id: str, query: CommentQuery) -> Page[Comment]:
        return comments.list_comments(self.connection, project_id, query)

    def get_comment(self, project_id: str, comment_id: str) -> Comment | None:
        return comments.get_comment(self.connection, project_id, comment_id)

    def delete_comment(self, project_id: str, comment_id: str) -> Comment | None:
        return comments.delete_comment(self.connection, project_id, comment_id)

    def star(
        self, project_id: str, user_id: str, kind: StarKind, target_id: str, starred: bool
    ) -> bool:
        return comments.star(self.connection, project_id, user_id, kind, target_id, starred)

    def starred(
        self, project_id: str, user_id: str, kind: StarKind, ids: Sequence[str]
    ) -> set[str]:
        return comments.starred(self.connection, project_id, user_id, kind, ids)

    # -- share links -----------------------------------------------------------------------------
    def add_share(self, share: Share, token_hash: str) -> None:
        shares.add_share(self.connection, share, token_hash)

    def list_shares(self, project_id: str, now_ns: int) -> list[Share]:
        return shares.list_shares(self.connection, project_id, now_ns)

    def find_share(self, token_hash: str, now_ns: int) -> Share | None:
        return shares.find_share(self.connection, token_hash, now_ns)

    def delete_share(self, project_id: str, share_id_or_hash: str) -> Share | None:
        return shares.delete_share(self.connection, project_id, share_id_or_hash)

    # -- datasets (lamina.store.clickhouse.datasets) ------------------------------------------
    def put_dataset(self, project_id: str, dataset: Dataset) -> Dataset:
        return dataset_rows.put_dataset(self.connection, project_id, dataset)

    def list_datasets(self, project_id: str) -> list[Dataset]:
        return dataset_rows.list_datasets(self.connection, project_id)

    def get_dataset(self, project_id: str, name: str) -> Dataset | None:
        return dataset_rows.get_dataset(self.connection, project_id, name)

    def delete_dataset(self, project_id: str, name: str) -> Dataset | None:
        return dataset_rows.delete_dataset(self.connection, project_id, name)

    def put_dataset_items(self, project_id: str, name: str, items: Sequence[DatasetItem]) -> bool:
        return dataset_rows.put_items(self.connection, project_id, name, items)

    def list_dataset_items(self, project_id: str, name: str, query: ItemQuery) -> Page[DatasetItem]:
        return dataset_rows.list_items(self.connection, project_id, name, query)

    def get_dataset_item(self, project_id: str, name: str, item_id: str) -> DatasetItem | None:
        return dataset_rows.get_item(self.connection, project_id, name, item_id)

    def delete_dataset_item(self, project_id: str, name: str, item_id: str) -> DatasetItem | None:
        return dataset_rows.delete_item(self.connection, project_id, name, item_id)

    # -- experiments (lamina.store.clickhouse.experiments) --------------------------------------
    def put_experiment(self, project_id: str, experiment: Experiment) -> Experiment:
        return experiment_rows.put_experiment(self.connection, project_id, experiment)

    def get_experiment(self, project_id: str, experiment_id: str) -> Experiment | None:
        return experiment_rows.get_experiment(self.connection, project_id, experiment_id)

    def list_experiments(self, project_id: str, group: str | None, limit: int) -> list[Experiment]:
        return experiment_rows.list_experiments(self.connection, project_id, group, limit)

    def put_experiment_items(
        self, project_id: str, experiment_id: str, items: Sequence[ExperimentItem]
    ) -> bool:
        return experiment_rows.put_items(self.connection, project_id, experiment_id, items)

    def list_experiment_items(self, project_id: str, experiment_id: str) -> list[ExperimentItem]:
        return experiment_rows.list_items(self.connection, project_id, experiment_id)

    def find_experiment_item(
        self, project_id: str, experiment_id: str, datapoint_id: str
    ) -> ExperimentItem | None:
        return experiment_rows.find_item(self.connection, project_id, experiment_id, datapoint_id)

    def delete_experiment(self, project_id: str, experiment_id: str) -> Experiment | None:
        return experiment_rows.delete_experiment(self.connection, project_id, experiment_id)

    # -- data lifecycle --------------------------------------------------------------------------
    def delete_trace(self, project_id: str, trace_id: str) -> Deleted:
        return lifecycle.delete_trace(self.connection, project_id, trace_id)

    def delete_traces(self, project_id: str, trace_ids: Sequence[str]) -> Deleted:
        return lifecycle.delete_traces(self.connection, project_id, trace_ids)

    def delete_session(self, project_id: str, session_id: str) -> Deleted:
        return lifecycle.delete_session(self.connection, project_id, session_id)

    def delete_before(self, project_id: str, before_ns: int) -> Deleted:
        evaluator_rows.delete_runs_before(self.connection, project_id, before_ns)
        return lifecycle.delete_before(self.connection, project_id, before_ns)

    def delete_project(self, project_id: str) -> Deleted:
        return lifecycle.delete_project(self.connection, project_id)

    def set_retention(self, project_id: str, days: int | None) -> Project | None:
        return lifecycle.set_retention(self.connection, project_id, days)

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
            self.connection, project_id, kind, after, limit, session_id, max_bytes
        )

    # -- projects and keys -----------------------------------------------------------------------
    def create_project(self, name: str) -> Project:
        return catalog.create_project(self.connection, name)

    def list_projects(self) -> list[Project]:
        return catalog.list_projects(self.connection)

    def find_project(self, name_or_id: str) -> Project | None:
        return catalog.find_project(self.connection, name_or_id)

    def create_key(self, project_id: str, name: str, key_hash: str, prefix: str) -> ApiKey:
        return catalog.create_key(self.connection, project_id, name, key_hash, prefix)

    def list_keys(self, project_id: str | None = None) -> list[ApiKey]:
        return catalog.list_keys(self.connection, project_id)

    def revoke_key(self, key_id: str) -> ApiKey | None:
        return catalog.revoke_key(self.connection, key_id)

    def project_for_key(self, key_hash: str) -> str | None:
        return catalog.project_for_key(self.connection, key_hash)

    # -- users -----------------------------------------------------------------------------------
    def create_user(self, email: str, password_hash: str, is_admin: bool) -> User:
        return catalog.create_user(self.connection, email, password_hash, is_admin)

    def find_user(self, email_or_id: str) -> User | None:
        return catalog.find_user(self.connection, email_or_id)

    def list_users(self) -> list[User]:
        return catalog.list_users(self.connection)

    # -- settings --------------------------------------------------------------------------------
    def get_setting(self, name: str) -> str | None:
        return catalog.get_setting(self.connection, name)

    def set_setting(self, name: str, value: str) -> None:
        catalog.set_setting(self.connection, name, value)

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

    # -- evaluators and their runs (lamina.store.clickhouse.evaluators) ----------------
    def reading_stored(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()  # every read sees what is stored

    def put_evaluator(self, project_id: str, evaluator: Evaluator) -> Evaluator:
        return evaluator_rows.put_evaluator(self.connection, project_id, evaluator)

    def list_evaluators(self, project_id: str) -> list[Evaluator]:
        return evaluator_rows.list_evaluators(self.connection, project_id)

    def delete_evaluator(self, project_id: str, evaluator_id: str) -> Evaluator | None:
        return evaluator_rows.delete_evaluator(self.connection, project_id, evaluator_id)

    def quiet_targets(
        self, project_id: str, target: str, windows: Mapping[str, tuple[int, int]], limit: int
    ) -> dict[str, list[Quiet]]:
        return evaluator_rows.quiet_targets(self.connection, project_id, target, windows, limit)

    def queue_runs(self, project_id: str, runs: Sequence[Run]) -> int:
        return evaluator_rows.queue_runs(self.connection, project_id, runs)

    def claim_runs(
        self,
        owner: str,
        now_ns: int,
        lease_ns: int,
        limit: int,
        of: Sequence[str] | None = None,
        not_of: Sequence[str] = (),
    ) -> list[Run]:
        return evaluator_rows.claim_runs(
            self.connection, owner, now_ns, lease_ns, limit, of, not_of
        )

    def save_run(self, run: Run) -> None:
        evaluator_rows.save_run(self.connection, run)

    def save_runs(self, runs: Sequence[Run]) -> None:
        evaluator_rows.save_runs(self.connection, runs)

    def list_runs(self, project_id: str, evaluator_id: str, query: RunQuery) -> list[Run]:
        return evaluator_rows.list_runs(self.connection, project_id, evaluator_id, query)

    def judged_again(
        self, project_id: str, evaluator_ids: Sequence[str], target_ids: Sequence[str]
    ) -> list[Run]:
        return evaluator_rows.judged_again(self.connection, project_id, evaluator_ids, target_ids)

    def run_progress(self, project_id: str, evaluator_id: str) -> Progress:
        return evaluator_rows.run_progress(self.connection, project_id, evaluator_id)

    def close(self) -> None:
        self.connection.close()
