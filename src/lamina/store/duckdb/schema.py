"""The DuckDB schema, as numbered migrations.

A data directory records the version it was written with; opening it runs
each later migration in order, in one transaction each, so a data dir made by
an earlier release keeps working. Never edit a released migration: add one.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from lamina.errors import ConfigError
from lamina.store.duckdb.connection import first_line, one, rollback

MIGRATIONS: list[str] = [
    # 1: projects, keys, users, spans, per-trace and per-session summaries.
    """
    CREATE TABLE settings (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
    CREATE TABLE projects (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL UNIQUE,
        created_ns BIGINT NOT NULL
    );
    CREATE TABLE api_keys (
        id VARCHAR PRIMARY KEY,
        project_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        key_hash VARCHAR NOT NULL UNIQUE,
        prefix VARCHAR NOT NULL,
        created_ns BIGINT NOT NULL,
        revoked_ns BIGINT
    );
    CREATE TABLE users (
        id VARCHAR PRIMARY KEY,
        email VARCHAR NOT NULL UNIQUE,
        password_hash VARCHAR NOT NULL,
        is_admin BOOLEAN NOT NULL,
        created_ns BIGINT NOT NULL
    );
    CREATE TABLE spans (
        seq BIGINT NOT NULL,
        project_id VARCHAR NOT NULL,
        trace_id VARCHAR NOT NULL,
        span_id VARCHAR NOT NULL,
        parent_span_id VARCHAR,
        name VARCHAR NOT NULL,
        span_type VARCHAR NOT NULL,
        start_ns BIGINT NOT NULL,
        end_ns BIGINT NOT NULL,
        status VARCHAR NOT NULL,
        status_message VARCHAR NOT NULL,
        session_id VARCHAR,
        user_id VARCHAR,
        input VARCHAR,
        output VARCHAR,
        model VARCHAR,
        provider VARCHAR,
        input_tokens BIGINT,
        output_tokens BIGINT,
        cost DOUBLE,
        tags VARCHAR[] NOT NULL,
        metadata VARCHAR NOT NULL,
        attributes VARCHAR NOT NULL,
        events VARCHAR NOT NULL,
        resource VARCHAR NOT NULL,
        service_name VARCHAR
    );
    CREATE TABLE traces (
        project_id VARCHAR NOT NULL,
        trace_id VARCHAR NOT NULL,
        session_id VARCHAR,
        session_rank BIGINT,
        user_id VARCHAR,
        user_rank BIGINT,
        name VARCHAR NOT NULL,
        name_rank BIGINT NOT NULL,
        start_ns BIGINT NOT NULL,
        end_ns BIGINT NOT NULL,
        span_count BIGINT NOT NULL,
        error_count BIGINT NOT NULL,
        input_tokens BIGINT,
        output_tokens BIGINT,
        cost DOUBLE,
        tags VARCHAR[] NOT NULL,
        metadata VARCHAR NOT NULL,
        input_preview VARCHAR,
        input_rank BIGINT,
        output_preview VARCHAR,
        output_rank BIGINT,
        min_seq BIGINT NOT NULL,
        max_seq BIGINT NOT NULL,
        PRIMARY KEY (project_id, trace_id)
    );
    CREATE TABLE sessions (
        project_id VARCHAR NOT NULL,
        session_id VARCHAR NOT NULL,
        trace_count BIGINT NOT NULL,
        span_count BIGINT NOT NULL,
        start_ns BIGINT NOT NULL,
        end_ns BIGINT NOT NULL,
        active_ns BIGINT NOT NULL,
        input_tokens BIGINT,
        output_tokens BIGINT,
        cost DOUBLE,
        user_ids VARCHAR[] NOT NULL,
        error_count BIGINT NOT NULL,
        first_input VARCHAR,
        last_output VARCHAR
    );
    """,
    # 2: a retention period per project (days; NULL keeps traces for ever).
    "ALTER TABLE projects ADD COLUMN retention_days INTEGER;",
    # 3: digests of recently committed requests, so a retried request is not stored twice.
    """
    CREATE TABLE request_digests (
        project_id VARCHAR NOT NULL,
        digest VARCHAR NOT NULL,
        at_ns BIGINT NOT NULL
    );
    """,
    # 4: per-trace summary deltas committed with their spans and not yet folded into
    # ``traces`` and ``sessions`` (the store folds them in bulk; reads fold first).
    "CREATE TABLE pending_traces AS SELECT * FROM traces LIMIT 0;",
    # 5: point lookups of one trace, one session and a session's traces through an index
    # instead of a scan that grows with the store (DuckDB uses a one-column index only).
    """
    CREATE INDEX traces_by_trace_id ON traces (trace_id);
    CREATE INDEX traces_by_session_id ON traces (session_id);
    CREATE INDEX sessions_by_session_id ON sessions (session_id);
    """,
    # 6: ``traces`` without its primary key. The fold merges summaries itself (delete and
    # insert) since it stopped using ON CONFLICT, no lookup uses the key's index, and
    # at 5M spans the store's memory was full (ART indexes are held in memory).
    # DuckDB cannot drop a constraint: the table is rebuilt.
    """
    CREATE TABLE traces_rebuilt (
        project_id VARCHAR NOT NULL,
        trace_id VARCHAR NOT NULL,
        session_id VARCHAR,
        session_rank BIGINT,
        user_id VARCHAR,
        user_rank BIGINT,
        name VARCHAR NOT NULL,
        name_rank BIGINT NOT NULL,
        start_ns BIGINT NOT NULL,
        end_ns BIGINT NOT NULL,
        span_count BIGINT NOT NULL,
        error_count BIGINT NOT NULL,
        input_tokens BIGINT,
        output_tokens BIGINT,
        cost DOUBLE,
        tags VARCHAR[] NOT NULL,
        metadata VARCHAR NOT NULL,
        input_preview VARCHAR,
        input_rank BIGINT,
        output_preview VARCHAR,
        output_rank BIGINT,
        min_seq BIGINT NOT NULL,
        max_seq BIGINT NOT NULL
    );
    INSERT INTO traces_rebuilt SELECT * FROM traces ORDER BY start_ns;
    DROP TABLE traces;
    ALTER TABLE traces_rebuilt RENAME TO traces;
    CREATE INDEX traces_by_trace_id ON traces (trace_id);
    CREATE INDEX traces_by_session_id ON traces (session_id);
    """,
    # 7: ``traces.trace_key``, the trace id's last 16 hex digits as a number (0 for an id
    # that is not hex). The fold finds the stored rows of a batch's traces by scanning
    # this 8-byte column instead of the compressed ids (at 275k traces: 2.6 against 60 ms).
    """
    ALTER TABLE traces ADD COLUMN trace_key UBIGINT;
    UPDATE traces SET trace_key = coalesce(try_cast('0x' || right(trace_id, 16) AS UBIGINT), 0);
    """,
    # 8: a copy of each project's 500 costliest sessions (the largest page), so the first
    # pages by cost read them instead of sorting every session (fold_sql.COSTLIEST_KEPT).
    """
    CREATE TABLE costliest_sessions AS SELECT * FROM sessions LIMIT 0;
    INSERT INTO costliest_sessions SELECT * FROM sessions
    QUALIFY row_number() OVER (
        PARTITION BY project_id ORDER BY coalesce(cost, 0) DESC, session_id DESC
    ) <= 500;
    """,
    # 9: the id of the last journal entry stored (lamina.store.duckdb.journal): entries after it
    # are stored again when the store opens. One row.
    """
    CREATE TABLE journal_stored (entry_id BIGINT NOT NULL);
    INSERT INTO journal_stored VALUES (0);
    """,
    # 10: long values kept apart (lamina.store.duckdb.values): a span keeps the head of
    # each, and the full lengths of those it holds the head of; the rest is in chunks
    # in ``span_values``. Spans stored before (``seq`` below the one row of
    # ``whole_values_before``) may hold long values whole.
    """
    ALTER TABLE spans ADD COLUMN cut_lengths MAP(VARCHAR, BIGINT);
    CREATE TABLE span_values (
        seq BIGINT NOT NULL,
        project_id VARCHAR NOT NULL,
        trace_id VARCHAR NOT NULL,
        span_id VARCHAR NOT NULL,
        field VARCHAR NOT NULL,
        char_offset BIGINT NOT NULL,
        chunk VARCHAR NOT NULL
    );
    CREATE TABLE whole_values_before (seq BIGINT NOT NULL);
    INSERT INTO whole_values_before SELECT coalesce(max(seq), 0) + 1 FROM spans;
    """,
    # 11: scores (lamina.store.scores) and their configs, sessions ended explicitly, and
    # each project's idle time after which a session counts as ended. A score on a trace
    # keeps the session of its trace in ``trace_session`` (NULL until the trace is
    # stored; the fold fills it, lamina.store.duckdb.scores). No key index on scores:
    # their writes are serialised (the store lock), and ART indexes are held in memory.
    # ``session_score_totals`` and ``trace_score_totals`` hold each session's and
    # trace's average, count and labels a score name (two tables: a page's summary of
    # sessions scans only sessions' rows, 4-5 -> 2 ms at 100k scores), kept with every
    # change of scores, for the lists' summaries, filters and sorts.
    # score name, kept with every change of scores, for the lists' filters and sorts.
    """
    ALTER TABLE projects ADD COLUMN session_idle_minutes INTEGER DEFAULT 30;
    CREATE TABLE scores (
        project_id VARCHAR NOT NULL,
        score_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        value DOUBLE,
        label VARCHAR,
        source VARCHAR NOT NULL,
        author VARCHAR,
        session_id VARCHAR,
        trace_id VARCHAR,
        span_id VARCHAR,
        comment VARCHAR,
        created_ns BIGINT NOT NULL,
        trace_session VARCHAR
    );
    CREATE TABLE session_score_totals (
        project_id VARCHAR NOT NULL,
        owner VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        avg DOUBLE,
        count BIGINT NOT NULL,
        labels VARCHAR[] NOT NULL
    );
    CREATE TABLE trace_score_totals AS SELECT * FROM session_score_totals;
    CREATE TABLE score_configs (
        project_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        min DOUBLE,
        max DOUBLE,
        categories VARCHAR NOT NULL,
        description VARCHAR,
        created_ns BIGINT NOT NULL,
        PRIMARY KEY (project_id, name)
    );
    CREATE TABLE session_ends (
        project_id VARCHAR NOT NULL,
        session_id VARCHAR NOT NULL,
        ended_ns BIGINT NOT NULL,
        PRIMARY KEY (project_id, session_id)
    );
    """,
    # 12: comments on sessions, traces and spans, and each user's stars (#19; see
    # lamina.store.comments). A comment on a trace keeps its trace's session.
    """
    CREATE TABLE comments (
        project_id VARCHAR NOT NULL,
        comment_id VARCHAR NOT NULL,
        session_id VARCHAR,
        trace_id VARCHAR,
        span_id VARCHAR,
        body VARCHAR NOT NULL,
        author VARCHAR,
        author_id VARCHAR NOT NULL,
        created_ns BIGINT NOT NULL
    );
    CREATE TABLE bookmarks (
        project_id VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        target_id VARCHAR NOT NULL,
        created_ns BIGINT NOT NULL,
        PRIMARY KEY (project_id, user_id, kind, target_id)
    );
    """,
    # 13: share links (#19; lamina.store.shares): found by the hash of their token (the
    # key, so a visit is one index lookup), never the token itself.
    """
    CREATE TABLE shares (
        token_hash VARCHAR PRIMARY KEY,
        share_id VARCHAR NOT NULL,
        project_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        object_id VARCHAR NOT NULL,
        redact_attributes BOOLEAN NOT NULL,
        author VARCHAR,
        created_ns BIGINT NOT NULL,
        expires_ns BIGINT NOT NULL
    );
    """,
    # 14: evaluators (#20; lamina.store.evaluators): each project's definitions, and their
    # runs, which are the work queue too (one row per evaluator, target and version).
    # No key indexes (ART indexes are held in memory): the runner's thread is the one
    # writer of runs, and queues by an anti-join (lamina.store.duckdb.evaluators).
    """
    CREATE TABLE evaluators (
        project_id VARCHAR NOT NULL,
        evaluator_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        enabled BOOLEAN NOT NULL,
        definition VARCHAR NOT NULL,
        secret VARCHAR,
        created_ns BIGINT NOT NULL,
        updated_ns BIGINT NOT NULL
    );
    CREATE TABLE evaluator_runs (
        project_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        evaluator_id VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        target_id VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        queued_ns BIGINT NOT NULL,
        attempts INTEGER NOT NULL,
        not_before_ns BIGINT NOT NULL,
        lease_owner VARCHAR,
        lease_until_ns BIGINT NOT NULL,
        finished_ns BIGINT,
        score_id VARCHAR,
        value DOUBLE,
        label VARCHAR,
        comment VARCHAR,
        trace_id VARCHAR,
        latency_ms DOUBLE,
        input_tokens BIGINT,
        output_tokens BIGINT,
        cost DOUBLE,
        error VARCHAR,
        superseded_ns BIGINT
    );
    """,
    # 15: when an evaluator run's last attempt failed (#20; lamina.evaluation.health): an
    # evaluator whose newest failure is newer than its newest ok run is failing.
    "ALTER TABLE evaluator_runs ADD COLUMN failed_ns BIGINT;",
    # 16: datasets (#22; lamina.store.datasets): each project's named lists of test cases,
    # and their items (input, expected output and metadata as JSON text, and the session,
    # trace and turn an item was made from). No key indexes, as evaluators.
    """
    CREATE TABLE datasets (
        project_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        description VARCHAR,
        created_ns BIGINT NOT NULL
    );
    CREATE TABLE dataset_items (
        project_id VARCHAR NOT NULL,
        dataset VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        input VARCHAR NOT NULL,
        expected_output VARCHAR,
        metadata VARCHAR,
        source_session_id VARCHAR,
        source_trace_id VARCHAR,
        source_turn INTEGER,
        created_ns BIGINT NOT NULL,
        updated_ns BIGINT NOT NULL
    );
    """,
    # 17: experiments (#22; lamina.store.experiments): each run of an application over
    # test cases, and its items (input, expected output, output or error as JSON text,
    # the trace, the duration and the evaluators' scores as a JSON object).
    """
    CREATE TABLE experiments (
        project_id VARCHAR NOT NULL,
        experiment_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        group_name VARCHAR NOT NULL,
        dataset VARCHAR,
        created_ns BIGINT NOT NULL
    );
    CREATE TABLE experiment_items (
        project_id VARCHAR NOT NULL,
        experiment_id VARCHAR NOT NULL,
        item_index INTEGER NOT NULL,
        item_id VARCHAR,
        input VARCHAR NOT NULL,
        expected_output VARCHAR,
        output VARCHAR,
        error VARCHAR,
        trace_id VARCHAR,
        duration_ms DOUBLE NOT NULL,
        scores VARCHAR NOT NULL
    );
    """,
    # 18: the id a Laminar SDK gave an experiment's datapoint (#24;
    # lamina.web.laminar.evals), which its update_datapoint finds the item by.
    "ALTER TABLE experiment_items ADD COLUMN datapoint_id VARCHAR;",
    # 19: each end user's totals over their sessions, kept at ingest (#21; see
    # lamina.store.duckdb.users), filled from the sessions stored.
    """
    CREATE TABLE user_totals (
        project_id VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        sessions BIGINT NOT NULL,
        traces BIGINT NOT NULL,
        input_tokens BIGINT,
        output_tokens BIGINT,
        total_tokens BIGINT,
        cost DOUBLE,
        errors BIGINT NOT NULL,
        first_seen_ns BIGINT NOT NULL,
        last_seen_ns BIGINT NOT NULL
    );
    INSERT INTO user_totals
    SELECT project_id, u, count(*), sum(trace_count), sum(input_tokens), sum(output_tokens),
        CASE WHEN count(input_tokens) + count(output_tokens) > 0
            THEN coalesce(sum(input_tokens), 0) + coalesce(sum(output_tokens), 0) END,
        sum(cost), sum(error_count), min(start_ns), max(end_ns)
    FROM (
        SELECT project_id, unnest(user_ids) AS u, trace_count, input_tokens, output_tokens,
            cost, error_count, start_ns, end_ns
        FROM sessions WHERE trace_count > 0
    )
    GROUP BY project_id, u;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Bring the data file at ``path`` (open on ``con``) to SCHEMA_VERSION, refusing a
    file that is not a Lamina one or that a newer release wrote."""
    tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if tables and "schema_version" not in tables:  # never write into someone else's file
        raise ConfigError(
            f"{path} is a DuckDB database, but not a Lamina data file (it holds "
            f"tables such as {sorted(tables)[0]!r} and no schema version). Point "
            "--data-dir at another directory."
        )
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = one(con.execute("SELECT max(version) FROM schema_version"))
    current = int(row[0]) if row and row[0] is not None else 0
    if current > SCHEMA_VERSION:
        raise ConfigError(
            f"The data directory {path.parent} was written by a newer Lamina "
            f"(schema version {current}; this release knows up to {SCHEMA_VERSION}). "
            "Upgrade Lamina, or point --data-dir at another directory."
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(MIGRATIONS[version - 1])
            con.execute("INSERT INTO schema_version VALUES (?)", [version])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            rollback(con)
            raise ConfigError(
                f"Cannot upgrade the data directory {path.parent} to schema version "
                f"{version} ({first_line(exc)}). It is unchanged; restore it from a backup "
                "if it was damaged, or point --data-dir at another directory."
            ) from None
