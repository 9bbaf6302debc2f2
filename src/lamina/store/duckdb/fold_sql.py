"""SQL the DuckDB fold runs at ingest: sessions refreshed from their traces' summaries.

A session's summary (``sessions``) is recomputed from its traces' summaries
(``traces``) for just the sessions an ingest batch touches, so reading a sessions
page never aggregates anything; ``costliest_sessions`` keeps each project's costliest
sessions for the sort by cost. Used by :mod:`lamina.store.duckdb.fold`; the reads'
SQL is in :mod:`lamina.store.sessions_sql`.
"""

from __future__ import annotations

# A session's summary, from its traces' summaries. Run at ingest for the
# sessions a batch touched (see TOUCHED_SESSIONS), never on the read path. The
# summaries land in ``refreshed_sessions``, then in ``sessions`` and, for the
# costliest, in ``costliest_sessions`` (see KEEP_COSTLIEST).
REFRESH_SESSIONS = """
CREATE OR REPLACE TEMP TABLE refreshed_sessions AS
SELECT t.project_id, t.session_id,
    count(*) AS trace_count,
    sum(span_count)::BIGINT AS span_count,
    min(start_ns) AS start_ns,
    max(end_ns) AS end_ns,
    sum(end_ns - start_ns)::BIGINT AS active_ns,
    sum(input_tokens)::BIGINT AS input_tokens,
    sum(output_tokens)::BIGINT AS output_tokens,
    sum(cost) AS cost,
    coalesce(list(DISTINCT user_id ORDER BY user_id) FILTER (WHERE user_id IS NOT NULL), [])
        AS user_ids,
    count(*) FILTER (WHERE error_count > 0) AS error_count,
    arg_min(input_preview, start_ns) FILTER (WHERE input_preview IS NOT NULL) AS first_input,
    arg_max(output_preview, end_ns) FILTER (WHERE output_preview IS NOT NULL) AS last_output
FROM traces t JOIN touched_sessions USING (project_id, session_id)
WHERE t.start_ns >= ?
GROUP BY t.project_id, t.session_id
"""
STORE_REFRESHED = "INSERT INTO sessions BY NAME SELECT * FROM refreshed_sessions"


# A trace id's key (``traces.trace_key``): its last 16 hex digits as a number; 0 for
# an id that is not hex. The random part of a W3C trace id is at its end.
def trace_key(column: str) -> str:
    return f"coalesce(try_cast('0x' || right({column}, 16) AS UBIGINT), 0)"


# Where the stored rows of the batch's traces may be: the rowids of the rows with the
# keys of the batch's trace ids, read from the 8-byte key column alone.
FIND_STORED = f"""
SELECT rowid FROM traces
WHERE trace_key IN (SELECT DISTINCT {trace_key("trace_id")} FROM trace_batch)
ORDER BY rowid
"""
# The stored rows of the batch's traces (the fold merges them with the deltas), among
# the rows FIND_STORED found (parameters: the lowest and highest of their rowids and
# the list; the range lets the scan skip every other row group).
STORED_BATCH_TRACES = """
CREATE OR REPLACE TEMP TABLE stored_batch_traces AS
SELECT t.rowid AS stored_row, t.* FROM traces t
JOIN (SELECT DISTINCT project_id, trace_id FROM trace_batch) b USING (project_id, trace_id)
WHERE t.rowid BETWEEN ? AND ? AND t.rowid = any(?::BIGINT[])
"""
# The sessions the batch touches: those its spans name, and those its traces were in
# before (a late span can move a trace to another session). Run before the merge.
TOUCHED_SESSIONS = """
CREATE OR REPLACE TEMP TABLE touched_sessions AS
SELECT DISTINCT project_id, session_id FROM (
    SELECT project_id, session_id FROM trace_batch WHERE session_id IS NOT NULL
    UNION ALL
    SELECT project_id, session_id FROM stored_batch_traces WHERE session_id IS NOT NULL
)
"""
# No trace of a touched session starts before this, once the batch is merged: the
# session's traces start no earlier than it did, and a trace the batch changes no
# earlier than its stored or incoming start. The refresh reads only the traces
# from here on (zone maps on traces.start_ns skip the rest: the store keeps growing,
# the sessions being written to are mostly recent). Run before the merge.
REFRESH_SINCE = """
SELECT least(
    (SELECT min(start_ns) FROM trace_batch),
    (SELECT min(start_ns) FROM stored_batch_traces),
    (SELECT min(s.start_ns) FROM sessions s JOIN touched_sessions USING (project_id, session_id))
)
"""
FORGET_TOUCHED = """
DELETE FROM sessions WHERE EXISTS (
    SELECT 1 FROM touched_sessions s
    WHERE s.project_id = sessions.project_id AND s.session_id = sessions.session_id
)
"""

# -- the costliest sessions -------------------------------------------------------
# The first page by cost was a Top-N over every session: DuckDB read the cost of each,
# then fetched the winners' rows from wherever they sat in the table, and that fetch
# grew with the table (at 5M spans twice its time at 1M). ``costliest_sessions`` keeps
# a copy of each project's COSTLIEST_KEPT costliest sessions, whole rows, in the
# order below. It holds a prefix of that order: every session it does not hold costs
# less (or as much, with a lower id) than all it holds, so a page that finds its
# limit + 1 rows there is the same page as from ``sessions``, whatever else it filters
# on. Migration 8 fills it; every session refresh keeps it (see duckdb._refresh_sessions).
COSTLIEST_KEPT = 500  # the largest page
COST_ORDER = "coalesce(cost, 0) DESC, session_id DESC"

# Each touched project's floor: the last of its kept sessions, when it keeps its full
# COSTLIEST_KEPT (parameter). Below that it keeps all its sessions, and has no floor.
# Run before the refreshed sessions are kept.
COST_FLOORS = """
CREATE OR REPLACE TEMP TABLE cost_floors AS
SELECT project_id, coalesce(cost, 0) AS floor_cost, session_id AS floor_session
FROM costliest_sessions
WHERE project_id IN (SELECT project_id FROM touched_sessions)
QUALIFY count(*) OVER (PARTITION BY project_id) >= ?
    AND row_number() OVER (PARTITION BY project_id ORDER BY coalesce(cost, 0), session_id) = 1
"""
FORGET_TOUCHED_COSTLIEST = """
DELETE FROM costliest_sessions WHERE EXISTS (
    SELECT 1 FROM touched_sessions s
    WHERE s.project_id = costliest_sessions.project_id
        AND s.session_id = costliest_sessions.session_id
)
"""
# The refreshed sessions that rank at or above their project's floor. Every session
# kept before still ranks above it unless the refresh lowered its cost (a trace moved
# away, or was deleted): then the project keeps fewer than it should, and
# SHORT_OF_COSTLIEST finds it.
KEEP_COSTLIEST = """
INSERT INTO costliest_sessions BY NAME
SELECT r.* FROM refreshed_sessions r LEFT JOIN cost_floors f USING (project_id)
WHERE f.project_id IS NULL
    OR coalesce(r.cost, 0) > f.floor_cost
    OR (coalesce(r.cost, 0) = f.floor_cost AND r.session_id >= f.floor_session)
"""
# Those past the first COSTLIEST_KEPT (parameter) of each touched project.
TRIM_COSTLIEST = f"""
DELETE FROM costliest_sessions WHERE rowid IN (
    SELECT rowid FROM costliest_sessions
    WHERE project_id IN (SELECT project_id FROM touched_sessions)
    QUALIFY row_number() OVER (PARTITION BY project_id ORDER BY {COST_ORDER}) > ?
)
"""
# Touched projects keeping fewer than COSTLIEST_KEPT (parameter) that have more
# sessions than they keep: their kept sessions are forgotten and rebuilt.
SHORT_OF_COSTLIEST = """
WITH touched AS (SELECT DISTINCT project_id FROM touched_sessions),
kept AS (
    SELECT t.project_id, count(c.project_id) AS kept
    FROM touched t LEFT JOIN costliest_sessions c USING (project_id)
    GROUP BY t.project_id HAVING count(c.project_id) < ?
)
SELECT k.project_id FROM kept k JOIN sessions s USING (project_id)
GROUP BY k.project_id, k.kept HAVING count(*) > k.kept
"""
FORGET_COSTLIEST = "DELETE FROM costliest_sessions WHERE project_id = ?"
REBUILD_COSTLIEST = f"""
INSERT INTO costliest_sessions
SELECT * FROM sessions WHERE project_id = ? ORDER BY {COST_ORDER} LIMIT ?
"""
