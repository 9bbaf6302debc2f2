"""The ClickHouse schema, as numbered migrations (each a list of statements).

Every statement is idempotent (``IF NOT EXISTS``), because any number of
servers may start at once against one database and each runs what it finds
missing. Never edit a released migration: add one.

- ``spans``: one row per span, never updated. Sorted by project, hour, trace,
  start: a time range reads only its hours (and partitions), and one trace,
  whose hours its summary gives, is a key lookup within them.
- ``traces``: per-trace summaries as commutative deltas in an
  AggregatingMergeTree (min of (rank, value) tuples, sums, unions), one row per
  ingest batch until merges fold them. Reads aggregate ``GROUP BY trace_id``,
  so they are exact before any merge, and any number of servers can write
  pieces of one trace at once without reading first.
- ``session_traces``: which traces ever named a session (an index to find a
  session's traces without scanning a project's).
- ``sessions``: per-session summaries, recomputed at ingest for the sessions a
  batch touches and inserted as a new version (ReplacingMergeTree, read FINAL).
- ``projects``, ``api_keys``, ``users``, ``settings``: small tables, also
  versioned, so every server sees the same ones; ``request_digests``: the
  requests committed in the last hour (a retry is stored once).
- ``scores``, ``score_configs``, ``session_ends``: scores as they were given (a
  session's or trace's summary is aggregated when read, so a score may come before
  its trace), the configs, and the sessions ended explicitly (see
  :mod:`lamina.store.clickhouse.scores`).
- ``comments``, ``bookmarks``: what people wrote on sessions, traces and spans, and
  each user's stars (see :mod:`lamina.store.clickhouse.comments`).
- ``shares``: share links, by their token's hash (see :mod:`lamina.store.clickhouse.shares`).
- ``datasets``, ``dataset_items``: datasets and their items, versioned rows (see
  :mod:`lamina.store.clickhouse.datasets`).
"""

from __future__ import annotations

# "No value" for the ranked (rank, value) tuples: any real rank is lower.
NO_RANK = 2**63 - 1
HOUR_NS = 3_600_000_000_000
WEEK_NS = 7 * 24 * HOUR_NS


def ranked(column: str) -> str:
    """The value of the lowest rank among a trace's (rank, value) rows; NULL for none."""
    return f"if(min({column}).1 = {NO_RANK}, NULL, min({column}).2)"


_RANKED = "SimpleAggregateFunction(min, Tuple(Int64, String))"
# A score's row but its version and trace_session (migration 6 and score_sql.RESOLVE).
SCORE_ROW = (
    "project_id, score_id, name, value, label, source, author, session_id, trace_id, "
    "span_id, comment, created_ns"
)

MIGRATIONS: list[list[str]] = [
    # 1: spans, per-trace and per-session summaries, projects, keys, users, settings.
    [
        f"""
        CREATE TABLE IF NOT EXISTS spans (
            project_id LowCardinality(String),
            trace_id String,
            span_id String,
            parent_span_id Nullable(String),
            name LowCardinality(String),
            span_type LowCardinality(String),
            start_ns Int64 CODEC(Delta, ZSTD(1)),
            end_ns Int64 CODEC(Delta, ZSTD(1)),
            status LowCardinality(String),
            status_message String CODEC(ZSTD(1)),
            session_id Nullable(String) CODEC(ZSTD(1)),
            user_id Nullable(String) CODEC(ZSTD(1)),
            input Nullable(String) CODEC(ZSTD(3)),
            output Nullable(String) CODEC(ZSTD(3)),
            model LowCardinality(Nullable(String)),
            provider LowCardinality(Nullable(String)),
            input_tokens Nullable(Int64) CODEC(ZSTD(1)),
            output_tokens Nullable(Int64) CODEC(ZSTD(1)),
            cost Nullable(Float64) CODEC(ZSTD(1)),
            tags Array(LowCardinality(String)),
            metadata String CODEC(ZSTD(3)),
            attributes String CODEC(ZSTD(3)),
            events String CODEC(ZSTD(3)),
            resource String CODEC(ZSTD(3)),
            service_name LowCardinality(Nullable(String)),
            seq Int64 CODEC(ZSTD(1)),
            INDEX trace_bloom trace_id TYPE bloom_filter(0.01) GRANULARITY 4
        ) ENGINE = MergeTree
        PARTITION BY intDiv(start_ns, {WEEK_NS})
        ORDER BY (project_id, intDiv(start_ns, {HOUR_NS}), trace_id, start_ns)
        """,
        f"""
        CREATE TABLE IF NOT EXISTS traces (
            project_id LowCardinality(String),
            trace_id String,
            session_r {_RANKED},
            user_r {_RANKED},
            name_r {_RANKED},
            first_ns SimpleAggregateFunction(min, Int64),
            last_ns SimpleAggregateFunction(max, Int64),
            last_start_ns SimpleAggregateFunction(max, Int64),
            span_n SimpleAggregateFunction(sum, Int64),
            error_n SimpleAggregateFunction(sum, Int64),
            in_tokens SimpleAggregateFunction(sum, Nullable(Int64)),
            out_tokens SimpleAggregateFunction(sum, Nullable(Int64)),
            cost_sum SimpleAggregateFunction(sum, Nullable(Float64)),
            tag_set SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
            meta_r SimpleAggregateFunction(minMap, Map(String, Tuple(Int64, String))),
            input_r {_RANKED} CODEC(ZSTD(1)),
            output_r {_RANKED} CODEC(ZSTD(1)),
            session_set SimpleAggregateFunction(groupUniqArrayArray, Array(String))
        ) ENGINE = AggregatingMergeTree
        ORDER BY (project_id, trace_id)
        SETTINGS index_granularity = 1024
        """,
        """
        CREATE TABLE IF NOT EXISTS session_traces (
            project_id LowCardinality(String),
            session_id String,
            trace_id String
        ) ENGINE = ReplacingMergeTree
        ORDER BY (project_id, session_id, trace_id)
        SETTINGS index_granularity = 1024
        """,
        """
        CREATE TABLE IF NOT EXISTS sessions (
            project_id LowCardinality(String),
            session_id String,
            trace_count Int64,
            span_count Int64,
            start_ns Int64,
            end_ns Int64,
            active_ns Int64,
            input_tokens Nullable(Int64),
            output_tokens Nullable(Int64),
            cost Nullable(Float64),
            user_ids Array(String),
            error_count Int64,
            first_input Nullable(String),
            last_output Nullable(String),
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (project_id, session_id)
        SETTINGS index_granularity = 1024
        """,
        # The earliest creation of a name wins (version = -created_ns): two servers
        # creating one name at once agree, after the fact, on one project.
        """
        CREATE TABLE IF NOT EXISTS projects (
            name String,
            id String,
            created_ns Int64,
            retention_days Nullable(Int32),
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY name
        """,
        """
        CREATE TABLE IF NOT EXISTS api_keys (
            key_hash String,
            id String,
            project_id String,
            name String,
            prefix String,
            created_ns Int64,
            revoked_ns Nullable(Int64),
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY key_hash
        """,
        """
        CREATE TABLE IF NOT EXISTS users (
            email_key String,
            id String,
            email String,
            password_hash String,
            is_admin Bool,
            created_ns Int64,
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY email_key
        """,
        # Digests of recently committed requests, so a client's retry after a lost
        # answer is not stored twice, whichever server it reaches.
        """
        CREATE TABLE IF NOT EXISTS request_digests (
            project_id String,
            digest String,
            at_ns Int64
        ) ENGINE = ReplacingMergeTree
        ORDER BY (project_id, digest)
        TTL toDateTime(intDiv(at_ns, 1000000000)) + INTERVAL 2 HOUR
        """,
        """
        CREATE TABLE IF NOT EXISTS settings (
            name String,
            value String,
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY name
        """,
    ],
    # 2: scores (#19), their configs, sessions ended explicitly, each project's idle time.
    # Scores and ends keep their first write (version = -the tick of the insert): a
    # client's retry of a score_id is not a second score, and ending again keeps the
    # first end. Configs keep their last write.
    [
        """
        CREATE TABLE IF NOT EXISTS scores (
            project_id LowCardinality(String),
            score_id String,
            name LowCardinality(String),
            value Nullable(Float64),
            label Nullable(String),
            source LowCardinality(String),
            author Nullable(String),
            session_id Nullable(String),
            trace_id Nullable(String),
            span_id Nullable(String),
            comment Nullable(String) CODEC(ZSTD(1)),
            created_ns Int64,
            version Int64,
            INDEX session_bloom session_id TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX trace_bloom trace_id TYPE bloom_filter(0.01) GRANULARITY 1
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (project_id, score_id)
        SETTINGS index_granularity = 1024
        """,
        """
        CREATE TABLE IF NOT EXISTS score_configs (
            project_id String,
            name String,
            type String,
            min Nullable(Float64),
            max Nullable(Float64),
            categories String,
            description Nullable(String),
            created_ns Int64,
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (project_id, name)
        """,
        """
        CREATE TABLE IF NOT EXISTS session_ends (
            project_id String,
            session_id String,
            ended_ns Int64,
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (project_id, session_id)
        """,
        "ALTER TABLE projects ADD COLUMN IF NOT EXISTS session_idle_minutes Int32 DEFAULT 30",
    ],
    # 3: comments on sessions, traces and spans, and each user's stars (#19; see
    # lamina.store.comments). Comment ids are made once by the server: no versions.
    # A star is a row kept once (FINAL); unstarring deletes it.
    [
        """
        CREATE TABLE IF NOT EXISTS comments (
            project_id LowCardinality(String),
            comment_id String,
            session_id Nullable(String),
            trace_id Nullable(String),
            span_id Nullable(String),
            body String CODEC(ZSTD(1)),
            author Nullable(String),
            author_id String,
            created_ns Int64,
            INDEX session_bloom session_id TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX trace_bloom trace_id TYPE bloom_filter(0.01) GRANULARITY 1
        ) ENGINE = MergeTree
        ORDER BY (project_id, comment_id)
        SETTINGS index_granularity = 1024
        """,
        """
        CREATE TABLE IF NOT EXISTS bookmarks (
            project_id String,
            user_id String,
            kind LowCardinality(String),
            target_id String,
            created_ns Int64
        ) ENGINE = ReplacingMergeTree(created_ns)
        ORDER BY (project_id, user_id, kind, target_id)
        """,
    ],
    # 4: share links (#19; lamina.store.shares), found by the hash of their token (the
    # table's key), never the token itself. A revoke deletes the row.
    [
        """
        CREATE TABLE IF NOT EXISTS shares (
            token_hash String,
            share_id String,
            project_id String,
            kind LowCardinality(String),
            object_id String,
            redact_attributes Bool,
            author Nullable(String),
            created_ns Int64,
            expires_ns Int64
        ) ENGINE = MergeTree
        ORDER BY token_hash
        """,
    ],
    # 5: evaluators (#20; lamina.store.clickhouse.evaluators): definitions, their runs
    # (the work queue: each change of a run's state is a new row version), and the
    # claims that decide which server does a run's attempt (the earliest claim wins).
    [
        """
        CREATE TABLE IF NOT EXISTS evaluators (
            project_id String,
            evaluator_id String,
            name String,
            target String,
            enabled Bool,
            definition String,
            secret Nullable(String),
            created_ns Int64,
            updated_ns Int64,
            deleted UInt8,
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (project_id, evaluator_id)
        """,
        """
        CREATE TABLE IF NOT EXISTS evaluator_runs (
            project_id LowCardinality(String),
            run_id String,
            evaluator_id String,
            target LowCardinality(String),
            target_id String,
            target_version String,
            status LowCardinality(String),
            queued_ns Int64,
            attempts Int32,
            not_before_ns Int64,
            lease_owner Nullable(String),
            lease_until_ns Int64,
            finished_ns Nullable(Int64),
            score_id Nullable(String),
            value Nullable(Float64),
            label Nullable(String),
            comment Nullable(String) CODEC(ZSTD(1)),
            trace_id Nullable(String),
            latency_ms Nullable(Float64),
            input_tokens Nullable(Int64),
            output_tokens Nullable(Int64),
            cost Nullable(Float64),
            error Nullable(String),
            superseded_ns Nullable(Int64),
            row_version Int64
        ) ENGINE = ReplacingMergeTree(row_version)
        ORDER BY (project_id, evaluator_id, run_id)
        """,
        """
        CREATE TABLE IF NOT EXISTS evaluator_claims (
            run_id String,
            attempt Int32,
            owner String,
            claimed_ns Int64,
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (run_id, attempt)
        TTL toDateTime(intDiv(claimed_ns, 1000000000)) + INTERVAL 7 DAY
        """,
    ],
    # 6: a score on a trace keeps its trace's session (#19; lamina.store.clickhouse.score_sql):
    # set when the score is added, and again by a write that stores or moves its trace, so
    # lists filtered or sorted by a score read no trace to find a score's session. The
    # scores of a store made before get it here (a new version of each row).
    [
        "ALTER TABLE scores ADD COLUMN IF NOT EXISTS trace_session Nullable(String)",
        f"""
        INSERT INTO scores ({SCORE_ROW}, version, trace_session)
        SELECT {", ".join("s." + c for c in SCORE_ROW.split(", "))}, s.version + 1, t._session
        FROM (SELECT {SCORE_ROW}, version FROM scores FINAL
            WHERE trace_id IS NOT NULL AND trace_session IS NULL) AS s
        INNER JOIN (SELECT project_id, trace_id, {ranked("session_r")} AS _session
            FROM traces WHERE trace_id IN (SELECT trace_id FROM scores WHERE trace_id IS NOT NULL)
            GROUP BY project_id, trace_id) AS t
        ON t.project_id = s.project_id AND t.trace_id = s.trace_id
        WHERE t._session IS NOT NULL
        """,
    ],
    # 7: when an evaluator run's last attempt failed (#20; lamina.evaluation.health).
    ["ALTER TABLE evaluator_runs ADD COLUMN IF NOT EXISTS failed_ns Nullable(Int64)"],
    # 8: datasets (#22; lamina.store.clickhouse.datasets): each change of a dataset or an
    # item is a new row version (read FINAL); a delete is a lightweight DELETE.
    [
        """
        CREATE TABLE IF NOT EXISTS datasets (
            project_id String,
            name String,
            description Nullable(String),
            created_ns Int64,
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (project_id, name)
        """,
        """
        CREATE TABLE IF NOT EXISTS dataset_items (
            project_id LowCardinality(String),
            dataset String,
            item_id String,
            input String CODEC(ZSTD(1)),
            expected_output Nullable(String) CODEC(ZSTD(1)),
            metadata Nullable(String) CODEC(ZSTD(1)),
            source_session_id Nullable(String),
            source_trace_id Nullable(String),
            source_turn Nullable(Int32),
            created_ns Int64,
            updated_ns Int64,
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (project_id, dataset, item_id)
        """,
    ],
    # 9: experiments (#22; lamina.store.clickhouse.experiments): an experiment is written
    # once; an item put again (a retried request) is a new row version (read FINAL).
    [
        """
        CREATE TABLE IF NOT EXISTS experiments (
            project_id String,
            experiment_id String,
            name String,
            group_name String,
            dataset Nullable(String),
            created_ns Int64,
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (project_id, experiment_id)
        """,
        """
        CREATE TABLE IF NOT EXISTS experiment_items (
            project_id LowCardinality(String),
            experiment_id String,
            item_index Int32,
            item_id Nullable(String),
            input String CODEC(ZSTD(1)),
            expected_output Nullable(String) CODEC(ZSTD(1)),
            output Nullable(String) CODEC(ZSTD(1)),
            error Nullable(String),
            trace_id Nullable(String),
            duration_ms Float64,
            scores String,
            version Int64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (project_id, experiment_id, item_index)
        """,
    ],
    # 10: a claim's lease (#20; lamina.store.clickhouse.evaluators.claim_runs): a server
    # killed between claiming a run and marking it running left a claim no other server
    # could ever beat; once that claim's lease runs out, the next attempt is free.
    ["ALTER TABLE evaluator_claims ADD COLUMN IF NOT EXISTS lease_until_ns Int64 DEFAULT 0"],
    # 11: the id a Laminar SDK gave an experiment's datapoint (#24;
    # lamina.web.laminar.evals), which its update_datapoint finds the item by.
    ["ALTER TABLE experiment_items ADD COLUMN IF NOT EXISTS datapoint_id Nullable(String)"],
    # 12: the stamps of the hours trace charts are kept by (#21; lamina.store.rollups,
    # lamina.store.clickhouse.stamps): (project, hour) -> the newest write's stamp.
    [
        """
        CREATE TABLE IF NOT EXISTS chart_stamps (
            project_id LowCardinality(String),
            hour_ns Int64,
            stamp Int64
        ) ENGINE = ReplacingMergeTree
        ORDER BY (project_id, hour_ns)
        """
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)

SCHEMA_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (version Int64, applied_ns Int64)
ENGINE = MergeTree ORDER BY version
"""
