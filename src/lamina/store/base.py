"""The Store protocol: what every store (DuckDB, ClickHouse) provides.

Rows come back as plain dicts keyed by the JSON API's field names (see
ARCHITECTURE.md), with two differences the query layer smooths over: times
are integer nanoseconds (``start_ns``, ``end_ns``) and tags/metadata are
Python lists and dicts. No store-specific type crosses this boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from lamina.store.comments import Comment, CommentQuery, StarKind
from lamina.store.console import ConsoleQuery, ConsoleResult
from lamina.store.datasets import Dataset, DatasetItem, ItemQuery
from lamina.store.evaluator_store import EvaluatorStore
from lamina.store.experiments import Experiment, ExperimentItem
from lamina.store.labels import TraceLabels
from lamina.store.metrics import Cell, DistributionQuery, HistogramBucket, MetricQuery
from lamina.store.queries import Page, SessionQuery, TraceQuery
from lamina.store.scores import Score, ScoreConfig, ScoreQuery
from lamina.store.shares import Share
from lamina.store.users import UserPage, UserQuery

if TYPE_CHECKING:
    from lamina.spans.batch import ColumnBatch

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    created_ns: int
    retention_days: int | None = None  # traces older than this are deleted; None: kept
    # a session is "ended" once its last span ended this long ago (or it was ended)
    session_idle_minutes: int = 30


@dataclass(frozen=True, slots=True)
class Deleted:
    """What a delete removed."""

    traces: int = 0
    spans: int = 0


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    project_id: str
    name: str
    prefix: str  # the first characters of the key, to recognise it in lists
    created_ns: int
    revoked_ns: int | None


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    password_hash: str
    is_admin: bool
    created_ns: int


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A journal entry the store set aside because it could not hold it (see
    lamina.store.duckdb.quarantine): its id, spans, bytes, projects, when and why."""

    id: str
    spans: int
    bytes: int
    project_ids: list[str]
    quarantined_ns: int
    reason: str


class ExportKind(StrEnum):
    """What :meth:`Store.export_page` reads a page of."""

    SESSIONS = "sessions"
    TRACES = "traces"
    SPANS = "spans"


class Store(EvaluatorStore, Protocol):
    # Whether other processes (servers) may write the same store at the same moment
    # (ClickHouse): what is made once per store (the cookie secret) then waits for
    # theirs. A store only one process opens (DuckDB) is not shared.
    shared: bool

    # -- spans ---------------------------------------------------------------
    def write_columns(self, batches: Sequence[ColumnBatch]) -> None:
        """Store the batches' spans and merge their trace deltas, in one transaction.

        When this returns, the spans are durable and visible to every query.
        This is the ingest path: the batcher's writer is its only caller.
        """

    def list_sessions(self, project_id: str, query: SessionQuery) -> Page[Row]: ...

    def count_sessions(self, project_id: str, query: SessionQuery, up_to: int) -> int:
        """How many sessions ``query``'s filters select (its sort, cursor and limit
        aside), counting no further than ``up_to``: a store may stop there."""

    def session_spans(self, project_id: str, session_id: str, limit: int) -> list[Row]:
        """The spans of the session's traces without their payloads, for its timeline:
        ``trace_id``, ``span_id``, ``parent_span_id``, ``name``, ``span_type``, times and
        ``status``; the first ``limit`` by start time (then span id). Empty for a
        session the project does not have."""

    def get_session(self, project_id: str, session_id: str) -> Row | None:
        """The session's fields plus ``traces``: all its traces in time order."""

    def list_traces(self, project_id: str, query: TraceQuery) -> Page[Row]: ...

    def get_trace(self, project_id: str, trace_id: str) -> Row | None:
        """The trace's fields plus ``spans``: all its spans in start order."""

    def get_traces(self, project_id: str, trace_ids: Sequence[str]) -> list[Row]:
        """What :meth:`get_trace` answers for each of ``trace_ids``, in one round of
        queries however many there are: in the order of ``trace_ids``, each once, those
        the project does not have left out."""

    def label_trace(self, project_id: str, trace_id: str, labels: TraceLabels) -> bool:
        """Add tags to the stored trace and set metadata keys on it (lamina.store.labels:
        the latest change wins); False when the project has no such trace (yet)."""

    def span_value(self, project_id: str, trace_id: str, span_id: str, field: str) -> Row | None:
        """One whole large value of a span (``input``, ``output``, ``metadata``,
        ``attributes``, ``events``, ``resource``), which :meth:`get_trace` may cut
        short: ``{trace_id, span_id, field, value}``; None if there is no such span."""

    def count_spans(self, project_id: str | None = None) -> int: ...

    # -- metrics (lamina.store.metrics) -------------------------------------------
    def metric_series(self, project_id: str, query: MetricQuery) -> dict[str, list[Cell]]:
        """For each of ``query.metrics`` (by name), its value in each (group, bucket) that
        has rows, any order; the buckets with none are left out. The metrics of one
        query are read together (one scan of their summary table)."""

    def metric_distribution(
        self, project_id: str, query: DistributionQuery
    ) -> list[HistogramBucket]:
        """A histogram of the sessions that started in the range: bins of one round
        width (lamina.store.metrics.bin_width) from the lowest value's to the highest's;
        empty when there is no session."""

    # -- the SQL console (lamina.store.console) ------------------------------------
    # The dialect a console query is written in: "duckdb" or "clickhouse".
    sql_dialect: str

    def run_sql(self, project_id: str, query: ConsoleQuery) -> ConsoleResult:
        """Run a console query over the project's views (lamina.store.console.VIEWS)
        after lamina.store.console_guard has checked and rewritten it, within its
        limits. BadRequest when the guard refuses it, it fails, or a limit stops it."""

    # -- a project's end users (lamina.store.users) ----------------------------------
    def list_end_users(self, project_id: str, query: UserQuery) -> UserPage:
        """The user ids the project's sessions carry, each with the totals of its
        sessions (lamina.store.users.USER_FIELDS) and a ``score_summary``."""

    def get_end_user(self, project_id: str, user_id: str) -> Row | None:
        """One user's row as :meth:`list_end_users` gives it; None for an id no
        session of the project carries."""

    # -- scores and session outcomes (lamina.store.scores) ----------------------
    # Session rows (lists and details) carry ``status`` ("active" or "ended"),
    # ``ended_ns`` (None while active) and ``score_summary`` ({name: {"avg", "count"}}
    # over the session's own scores and its traces'; a None value is counted in
    # ``count`` but not in ``avg``); trace rows carry ``score_summary`` (the trace's and
    # its spans' scores). Details (get_session, get_trace) also carry ``scores``: the
    # list, newest first. Deleting a session, trace or project deletes its scores.
    def add_scores(self, project_id: str, scores: Sequence[Score]) -> None:
        """Store the scores, durable when this returns. A score_id the project has
        already is not stored again (a client's retry), so adding is idempotent."""

    def list_scores(self, project_id: str, query: ScoreQuery) -> Page[Score]: ...

    def delete_score(self, project_id: str, score_id: str) -> Score | None: ...

    def put_score_config(self, project_id: str, config: ScoreConfig) -> ScoreConfig:
        """Create the config, or replace the one of that name."""

    def list_score_configs(self, project_id: str) -> list[ScoreConfig]: ...

    def cached_score_configs(self, project_id: str) -> list[ScoreConfig] | None:
        """The project's configs as :meth:`list_score_configs` gives them, when this
        store holds them in memory (no I/O: cheap enough for the event loop); None when
        they must be read (never a list older than the last change of configs)."""

    def delete_score_config(self, project_id: str, name: str) -> ScoreConfig | None: ...

    def end_session(self, project_id: str, session_id: str, ended_ns: int) -> None:
        """Mark the session ended at ``ended_ns`` (a session not seen yet is ended
        once it arrives; ending again keeps the first time)."""

    def set_session_idle_minutes(self, project_id: str, minutes: int) -> Project | None: ...

    # -- comments and bookmarks (lamina.store.comments) ----------------------------
    # Deleting a session, trace or project deletes its comments and stars.
    def add_comment(self, project_id: str, comment: Comment) -> Comment | None:
        """Store the comment (one on a trace or span takes the trace's session) and
        answer it as stored; None when the project has not its session or trace."""

    def list_comments(self, project_id: str, query: CommentQuery) -> Page[Comment]:
        """Oldest first; a session's are its own and those on its traces and spans."""

    def get_comment(self, project_id: str, comment_id: str) -> Comment | None: ...

    def delete_comment(self, project_id: str, comment_id: str) -> Comment | None: ...

    def star(
        self, project_id: str, user_id: str, kind: StarKind, target_id: str, starred: bool
    ) -> bool:
        """Star (or unstar) a session or trace for one user; False when the project has
        not that session or trace. Starring twice keeps one star."""

    def starred(
        self, project_id: str, user_id: str, kind: StarKind, ids: Sequence[str]
    ) -> set[str]:
        """Those of ``ids`` the user starred. Lists filter by it with ``starred_by``."""

    # -- share links (lamina.store.shares) ----------------------------------------
    def add_share(self, share: Share, token_hash: str) -> None:
        """Keep the share, found later by ``token_hash`` (the token is never stored)."""

    def list_shares(self, project_id: str, now_ns: int) -> list[Share]:
        """The project's shares that have not expired at ``now_ns``, newest first."""

    def find_share(self, token_hash: str, now_ns: int) -> Share | None:
        """The share of that token hash, unless it expired at ``now_ns`` (or was revoked)."""

    def delete_share(self, project_id: str, share_id_or_hash: str) -> Share | None:
        """Revoke the project's share of that id or token hash; None if it has none."""

    # -- datasets (lamina.store.datasets) --------------------------------------------
    # Deleting a project deletes its datasets; deleting a session or trace leaves the
    # items made from it (copies).
    def put_dataset(self, project_id: str, dataset: Dataset) -> Dataset:
        """Create the dataset, or change the description of the one of its name; answer
        it as stored (with its item count)."""

    def list_datasets(self, project_id: str) -> list[Dataset]:
        """The project's datasets, by name."""

    def get_dataset(self, project_id: str, name: str) -> Dataset | None: ...

    def delete_dataset(self, project_id: str, name: str) -> Dataset | None:
        """The dataset and its items."""

    def put_dataset_items(self, project_id: str, name: str, items: Sequence[DatasetItem]) -> bool:
        """Add the items to the dataset, each replacing its item of that item_id; False
        (and nothing stored) when the project has no dataset of that name."""

    def list_dataset_items(self, project_id: str, name: str, query: ItemQuery) -> Page[DatasetItem]:
        """The dataset's items, oldest first (none for a dataset the project has not)."""

    def get_dataset_item(self, project_id: str, name: str, item_id: str) -> DatasetItem | None: ...

    def delete_dataset_item(
        self, project_id: str, name: str, item_id: str
    ) -> DatasetItem | None: ...

    # -- experiments (lamina.store.experiments) --------------------------------------
    # Deleting a project deletes its experiments.
    def put_experiment(self, project_id: str, experiment: Experiment) -> Experiment:
        """Make the experiment, or answer the one of its id as stored (with its item
        count)."""

    def get_experiment(self, project_id: str, experiment_id: str) -> Experiment | None: ...

    def list_experiments(self, project_id: str, group: str | None, limit: int) -> list[Experiment]:
        """The project's experiments (of one group, when given), newest first."""

    def put_experiment_items(
        self, project_id: str, experiment_id: str, items: Sequence[ExperimentItem]
    ) -> bool:
        """Add the items to the experiment, each replacing its item of that index; False
        (and nothing stored) when the project has no experiment of that id."""

    def list_experiment_items(self, project_id: str, experiment_id: str) -> list[ExperimentItem]:
        """The experiment's items by index (none for one the project has not)."""

    def find_experiment_item(
        self, project_id: str, experiment_id: str, datapoint_id: str
    ) -> ExperimentItem | None:
        """The experiment's item a Laminar SDK gave this datapoint id (#24), or None."""

    def delete_experiment(self, project_id: str, experiment_id: str) -> Experiment | None:
        """Delete the experiment and its items (its traces are a session's: the caller
        deletes that); the experiment as it was, or None when the project has none of
        that id. Items put after it is gone are not kept."""

    # -- data lifecycle: delete, retention, export ------------------------------
    # Deletes run in one transaction each, beside ingest writes, and refresh the
    # summaries of every session that lost a trace (a session left without
    # traces is gone). Late spans of a deleted trace make it anew.
    def delete_trace(self, project_id: str, trace_id: str) -> Deleted: ...

    def delete_traces(self, project_id: str, trace_ids: Sequence[str]) -> Deleted:
        """These traces of the project, in one delete (an experiment's items' traces)."""

    def delete_session(self, project_id: str, session_id: str) -> Deleted:
        """Every trace of the session, with its spans."""

    def delete_before(self, project_id: str, before_ns: int) -> Deleted:
        """The project's traces that ended before ``before_ns`` (retention)."""

    def delete_project(self, project_id: str) -> Deleted:
        """The project itself, its keys, and all its data."""

    def set_retention(self, project_id: str, days: int | None) -> Project | None:
        """Keep the project's traces ``days`` days (None: for ever); None if no project."""

    def export_page(
        self,
        project_id: str,
        kind: ExportKind,
        after: str | None = None,
        limit: int = 1000,
        session_id: str | None = None,
        max_bytes: int | None = None,
    ) -> Page[Row]:
        """One page of the project's ``sessions``, ``traces`` or ``spans`` (only
        ``session_id``'s when given), in stored form: sessions and traces as
        :meth:`list_sessions` and :meth:`list_traces` give them, spans as in
        :meth:`get_trace` plus their ``trace_id``. Pass ``next_cursor`` back as
        ``after`` for the next page. With ``max_bytes``, a page of spans ends before
        their text passes it (it holds at least one span), and the store never reads
        much more than that for it."""

    # -- projects and keys ---------------------------------------------------
    def create_project(self, name: str) -> Project: ...

    def list_projects(self) -> list[Project]: ...

    def find_project(self, name_or_id: str) -> Project | None: ...

    def create_key(self, project_id: str, name: str, key_hash: str, prefix: str) -> ApiKey: ...

    def list_keys(self, project_id: str | None = None) -> list[ApiKey]: ...

    def revoke_key(self, key_id: str) -> ApiKey | None: ...

    def project_for_key(self, key_hash: str) -> str | None:
        """The project id a live (not revoked) key hash belongs to."""

    # -- users ---------------------------------------------------------------
    def create_user(self, email: str, password_hash: str, is_admin: bool) -> User: ...

    def find_user(self, email_or_id: str) -> User | None: ...

    def list_users(self) -> list[User]: ...

    # -- settings kept in the store (secrets, first-run markers) --------------
    def get_setting(self, name: str) -> str | None: ...

    def set_setting(self, name: str, value: str) -> None: ...

    # -- writes that fail, and writes set aside (only the DuckDB store has a journal) --
    def write_failure(self) -> str | None:
        """Why acknowledged spans cannot be stored now; None while they can."""

    def quarantined_ids(self) -> list[str]:
        """The ids of the writes set aside because the store could not hold them."""

    def list_quarantined(self) -> list[Quarantined]: ...

    def retry_quarantined(self, entry_id: str) -> Quarantined:
        """Write a set-aside entry's spans again (NotFound if there is none)."""

    def drop_quarantined(self, entry_id: str) -> Quarantined:
        """Delete a set-aside entry and its spans (NotFound if there is none)."""

    def close(self) -> None: ...
