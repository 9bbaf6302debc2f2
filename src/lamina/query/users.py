"""A project's end users (lamina.store.users) as the JSON API and the Users page show
them: parameters parsed into a :class:`~lamina.store.users.UserQuery`, rows presented
(times as ``first_seen`` and ``last_seen``, costs rounded as every cost)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lamina.errors import BadRequest, NotFound
from lamina.query.params import _cursor, _int, _limit, _order, _sort, _text
from lamina.query.present import cost, moment
from lamina.store.base import Row, Store
from lamina.store.users import USER_SORTS, UserQuery

MAX_OFFSET = 1_000_000


def parse_user_query(params: Mapping[str, str]) -> UserQuery:
    sort, score_sort = _sort(params, USER_SORTS, "last_seen")
    cursor = _cursor(params, f"score:{score_sort}" if score_sort else sort)
    offset = _int(params, "offset") or 0
    if offset > MAX_OFFSET:
        raise BadRequest(f"offset must be at most {MAX_OFFSET:,}; got {offset}.")
    if cursor is not None and offset:
        raise BadRequest("Give cursor or offset, not both.")
    return UserQuery(
        limit=_limit(params),
        cursor=cursor,
        offset=offset,
        sort=sort,
        descending=_order(params),
        q=_text(params, "q"),
        score_sort=score_sort,
    )


def user(row: Row) -> Row:
    out = dict(row)
    out["first_seen"] = moment(out.pop("first_seen_ns"))
    out["last_seen"] = moment(out.pop("last_seen_ns"))
    out["cost"] = cost(out["cost"])
    return out


def list_users(store: Store, project_id: str, params: Mapping[str, str]) -> dict[str, Any]:
    found = store.list_end_users(project_id, parse_user_query(params))
    return {
        "items": [user(row) for row in found.items],
        "next_cursor": found.next_cursor,
        "total": found.total,
    }


def get_user(store: Store, project_id: str, user_id: str) -> Row:
    row = store.get_end_user(project_id, user_id)
    if row is None:
        raise NotFound(f'No user "{user_id}" in this project: no session carries that user id.')
    return user(row)
