"""The stamps of the hours trace charts are kept by (lamina.store.rollups), in ClickHouse.

Several servers share one ClickHouse, and a server's memory cannot know another's
ingest, so the stamps are rows: ``chart_stamps`` (schema migration 12) is a
ReplacingMergeTree of (project, hour) -> the newest write's stamp, a random 64-bit
number (the row inserted last wins, whatever the servers' clocks say). A write inserts
its stamps after its own rows; a read takes them before its query
(:meth:`Rollups.series`): a read that saw a write's rows either took its stamps after
the write stamped, or keeps them under stamps the write then replaced, read again
next time.

The hours an ingest batch changes are those of its traces: every hour from a trace's
start to the start of its last span, read after the batch's rows are in (a writer
never reads before it writes). That holds the hour the trace counts in now, the hour
it left when a late span moved its start earlier (a trace's start is the least of its
delta rows', all of them read), and every hour its spans count in by model (a span
starts within its trace); a delta another server wrote at the same moment is stamped
by that server, after its own insert. A tag edit stamps its trace's hours the same
way; a delete (a trace, a session, retention, a project) stamps the whole project (the
hour ``EVERY_HOUR``) once its DELETEs are done; so does making or deleting an
experiment (a chart leaving out experiments' sessions changes).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lamina.store.metrics import HOUR_NS

if TYPE_CHECKING:
    from lamina.store.clickhouse.connection import Connection

EVERY_HOUR = -(2**63)  # a project's row that every bucket of it depends on
_HOUR = f"toInt64({HOUR_NS})"
_FIRST = f"t_first - ((t_first % {_HOUR}) + {_HOUR}) % {_HOUR}"  # its hour (floored)
_STAMP_TRACES = f"""
INSERT INTO chart_stamps (project_id, hour_ns, stamp)
SELECT DISTINCT project_id, arrayJoin(range({_FIRST}, t_last + 1, {_HOUR})), {{stamp:Int64}}
FROM (
    SELECT project_id, min(first_ns) AS t_first,
        greatest(max(last_start_ns), min(first_ns)) AS t_last
    FROM traces WHERE (project_id, trace_id) IN {{keys:Array(Tuple(String, String))}}
    GROUP BY project_id, trace_id
)
"""
_READ = (
    "SELECT hour_ns, stamp FROM chart_stamps FINAL WHERE project_id = {project:String} "
    "AND (hour_ns = {every:Int64} OR (hour_ns >= {since:Int64} AND hour_ns < {until:Int64}))"
)


def read(
    db: Connection, project_id: str, since_ns: int, until_ns: int
) -> tuple[int, dict[int, int]]:
    """The project's delete stamp and its hours' stamps in [since, until) (Rollups.Stamps)."""
    rows = db.query(
        _READ, {"project": project_id, "every": EVERY_HOUR, "since": since_ns, "until": until_ns}
    )
    hours = {int(row["hour_ns"]): int(row["stamp"]) for row in rows}
    return hours.pop(EVERY_HOUR, 0), hours


def after_write(db: Connection, keys: Sequence[tuple[str, str]]) -> None:
    """Stamp the hours of the traces (``keys``: project, trace) a batch just wrote to,
    or whose tags or metadata just changed."""
    db.execute(_STAMP_TRACES, {"keys": list(keys), "stamp": _new()})


def every_hour(db: Connection, project_id: str) -> None:
    """Stamp every hour of the project: data of it was deleted, or an experiment made."""
    db.execute(
        "INSERT INTO chart_stamps (project_id, hour_ns, stamp) "
        "VALUES ({project:String}, {every:Int64}, {stamp:Int64})",
        {"project": project_id, "every": EVERY_HOUR, "stamp": _new()},
    )


def _new() -> int:
    return secrets.randbits(64) - 2**63
