"""The Traces page: two tabs, Traces and Sessions, with filters, search, sort and paging.

Both tabs ask :mod:`lamina.query.present`, like ``GET /api/v1/traces`` and
``GET /api/v1/sessions`` do, with the same parameters; the page only turns
its form fields (a time range, say) into those parameters. ``?fragment=rows``
answers just the table rows, for "Load more" and live updates.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import ImmutableMultiDict
from starlette.responses import Response

from lamina import auth
from lamina.errors import BadRequest
from lamina.query import present
from lamina.web.pages import columns
from lamina.web.pages import scores as score_pages
from lamina.web.pages.base import Page, base_url
from lamina.web.pages.render import query
from lamina.web.pages.settings import snippets

PAGE_SIZE = 50
TABS = ("traces", "sessions")
RANGES: dict[str, tuple[int, str]] = {
    "15m": (15 * 60, "Last 15 min"),
    "1h": (3600, "Last hour"),
    "24h": (86_400, "Last 24 h"),
    "7d": (7 * 86_400, "Last 7 days"),
    "30d": (30 * 86_400, "Last 30 days"),
}
# UI field -> (label in a filter chip, tabs it applies to)
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "q": ("Search", TABS),
    "range": ("Time", TABS),
    # a dashboard chart's bucket (lamina.web.pages.dashboard): active from, and before
    "since": ("From", TABS),
    "until": ("Before", TABS),
    "user_id": ("User", TABS),
    "status": ("Status", TABS),  # traces: ok or error; sessions: active or ended
    "outcome": ("Outcome", ("sessions",)),  # the API's score=outcome=VALUE
    "has_errors": ("Errors", ("sessions",)),
    "session_id": ("Session", ("traces",)),
    "session_id_prefix": ("Session id starts with", ("sessions",)),
    "name": ("Name", ("traces",)),
    "tag": ("Tag", TABS),
    "min_traces": ("Min traces", ("sessions",)),
    "min_cost": ("Min cost ($)", ("sessions",)),
    "max_cost": ("Max cost ($)", ("sessions",)),
    "min_duration_s": ("Min duration (s)", ("sessions",)),
    "max_duration_s": ("Max duration (s)", ("sessions",)),
    "starred": ("Starred", TABS),  # starred=true: the signed-in user's stars only
    "experiments": ("Experiment runs", TABS),  # hidden unless asked (lamina.query.params)
}
# Fields the page shows in seconds and the API takes in milliseconds.
SECONDS = {"min_duration_s": "min_duration_ms", "max_duration_s": "max_duration_ms"}
ERROR_CHOICES = {"true": "With errors", "false": "Without errors"}
EXPERIMENT_CHOICES = {"": "Hidden", "include": "Shown with the others", "only": "Only them"}
OUTCOMES = ("success", "partial", "failure", "abandoned", "unknown")
SORTS = {
    "traces": (
        "start_time",
        "name",
        "duration_ms",
        "span_count",
        "total_tokens",
        "cost",
        "session_id",
        "user_id",
    ),
    "sessions": (
        "start_time",
        "duration_ms",
        "active_duration_ms",
        "trace_count",
        "total_tokens",
        "cost",
        "error_count",
        "session_id",
        "user_id",
    ),
}
TEXT_SORTS = ("name", "session_id", "user_id")  # these sort A to Z first


@dataclass
class Filters:
    tab: str
    values: dict[str, str]  # the form fields in use (not sort, order or cursor)
    metadata: list[str]
    scores: list[str]  # score=NAME<op>VALUE, as the API takes them
    has_scores: list[str]  # has_score=NAME
    sort: str
    order: str
    cursor: str | None
    invalid: str | None = None  # what is wrong with a field the page itself converts

    @classmethod
    def read(cls, page: Page) -> Filters:
        params = page.request.query_params
        tab = params.get("tab", "traces")
        tab = tab if tab in TABS else "traces"
        values = {}
        for name, (_, tabs) in FIELDS.items():
            value = (params.get(name) or "").strip()
            if value and tab in tabs:
                values[name] = value
        metadata = [m.strip() for m in params.getlist("metadata") if m.strip()]
        scores = [s.strip() for s in params.getlist("score") if s.strip()]
        has_scores = [s.strip() for s in params.getlist("has_score") if s.strip()]
        sort = params.get("sort") or "start_time"
        order = "asc" if params.get("order") == "asc" else "desc"
        invalid = None
        for name in SECONDS:
            if name in values and not _seconds(values[name]):
                invalid = f"{FIELDS[name][0]}: give a number of seconds, such as 1.5."
                del values[name]
        cursor = params.get("cursor") or None
        return cls(tab, values, metadata, scores, has_scores, sort, order, cursor, invalid)

    @property
    def any(self) -> bool:
        return bool(self.values or self.metadata or self.scores or self.has_scores)

    def link_params(self) -> dict[str, Any]:
        """What links on this page keep: tab, filters, sort (metadata is added by query())."""
        params: dict[str, Any] = {"tab": self.tab, **self.values}
        params.update(score=self.scores, has_score=self.has_scores)
        if self.sort != "start_time" or self.order != "desc":
            params["sort"], params["order"] = self.sort, self.order
        return params

    def link(self, **changes: Any) -> str:
        """This list's address (its query string) with some parameters changed."""
        return query({**self.link_params(), "metadata": self.metadata, **changes})

    def json_link(self, project: str) -> str:
        """The same list from the JSON API."""
        params: dict[str, Any] = {**self._api_values(), "project": project, "limit": None}
        scores = self.scores + [f"outcome={v}" for k, v in self.values.items() if k == "outcome"]
        params.update(score=scores, has_score=self.has_scores)
        params["metadata"] = self.metadata
        params["cursor"] = None
        if self.sort == "start_time" and self.order == "desc":
            params["sort"] = params["order"] = None
        return f"/api/v1/{self.tab}{query(params)}"

    def api_params(self) -> ImmutableMultiDict[str, str]:
        """The API's parameters: score filters repeat, so a multi-dict."""
        params = self._api_values()
        pairs = [*params.items(), *(("score", s) for s in self.scores)]
        if "outcome" in self.values:
            pairs.append(("score", f"outcome={self.values['outcome']}"))
        pairs += [("has_score", name) for name in self.has_scores]
        return ImmutableMultiDict(pairs)

    def _api_values(self) -> dict[str, str]:
        skip = ("range", "outcome", *SECONDS)
        params = {k: v for k, v in self.values.items() if k not in skip}
        for name, api_name in SECONDS.items():
            if name in self.values:
                params[api_name] = repr(float(self.values[name]) * 1000)
        if "range" in self.values and self.values["range"] in RANGES:
            since = time.time() - RANGES[self.values["range"]][0]
            params["since"] = datetime.fromtimestamp(since, UTC).isoformat()
        params.update(limit=str(PAGE_SIZE), sort=self.sort, order=self.order)
        if self.cursor:
            params["cursor"] = self.cursor
        return params

    def chips(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(label, value, the link params without it) for each filter in use."""
        base = self.link_params()
        chips = []
        for name, value in self.values.items():
            label = FIELDS[name][0]
            shown = RANGES[value][1] if name == "range" and value in RANGES else value
            shown = ERROR_CHOICES.get(value, value) if name == "has_errors" else shown
            shown = "only starred" if name == "starred" else shown
            shown = EXPERIMENT_CHOICES.get(value, value) if name == "experiments" else shown
            without = {k: v for k, v in base.items() if k != name}
            chips.append((label, shown, {**without, "metadata": self.metadata}))
        for item in self.metadata:
            rest = [m for m in self.metadata if m != item]
            chips.append(("Metadata", item, {**base, "metadata": rest}))
        for key, label, items in (
            ("score", "Score", self.scores),
            ("has_score", "Has score", self.has_scores),
        ):
            for item in items:
                rest = [s for s in items if s != item]
                chips.append((label, item, {**base, key: rest, "metadata": self.metadata}))
        return chips

    def sort_link(self, key: str) -> dict[str, Any]:
        base = self.link_params()
        if key == self.sort:
            order = "asc" if self.order == "desc" else "desc"
        else:
            order = "asc" if key in TEXT_SORTS else "desc"
        return {**base, "sort": key, "order": order, "metadata": self.metadata}

    @property
    def score_sort(self) -> str | None:
        """The score name the list is sorted by (sort=score:NAME), if it is."""
        return self.sort[len("score:") :] if self.sort.startswith("score:") else None

    def score_names(self) -> list[str]:
        """Score names this list must show a column for: its sort's and its filters'."""
        names = [self.score_sort or ""] + [n for n in self.has_scores]
        for text in self.scores:
            names.append(re.split(r"[<>=!]", text, maxsplit=1)[0].strip())
        if "outcome" in self.values:
            names.append("outcome")
        return list(dict.fromkeys(n for n in names if n))

    def aria_sort(self, key: str) -> str:
        if key != self.sort:
            return "none"
        return "ascending" if self.order == "asc" else "descending"

    @property
    def live_inserts(self) -> bool:
        """New rows can only appear on top when the list is newest-first."""
        return self.sort == "start_time" and self.order == "desc" and not self.cursor


async def traces_page(page: Page) -> Response:
    assert page.project is not None
    filters = Filters.read(page)
    new_key = None
    if page.request.method == "POST":
        form = await page.site.accounts.checked_form(page.request, page.visitor)
        if form.get("action") == "create_key":
            new_key, _ = await page.call(auth.create_key, page.store, page.project.id, "quickstart")
    result: dict[str, Any] = {"items": [], "next_cursor": None}
    error = None
    try:
        if filters.invalid:
            raise BadRequest(filters.invalid)
        if filters.sort not in SORTS[filters.tab] and not filters.score_sort:
            raise BadRequest(f"This list cannot be sorted by {filters.sort!r}.")
        viewer = page.visitor.user.id if page.visitor is not None else None
        if filters.tab == "sessions":
            result = await page.call(
                present.list_sessions,
                page.store,
                page.project.id,
                filters.api_params(),
                filters.metadata,
                viewer,
            )
        else:
            result = await page.call(
                present.list_traces,
                page.store,
                page.project.id,
                filters.api_params(),
                filters.metadata,
                viewer,
            )
    except BadRequest as exc:
        error = exc.message
    known = await page.call(score_pages.configs, page.store, page.project.id)
    hidden: list[str] = []
    if page.visitor is not None:
        hidden = await page.call(
            columns.hidden, page.store, page.visitor.user.id, page.project.id, filters.tab
        )
    values = {
        "filters": filters,
        "hidden_columns": hidden,
        "columns": _columns(page, filters, result["items"], known),
        "outcomes": OUTCOMES,
        "experiment_choices": EXPERIMENT_CHOICES,
        "items": result["items"],
        "next_cursor": result["next_cursor"],
        "total": result.get("total"),
        "total_exact": result.get("total_exact", False),
        "error": error,
        "ranges": RANGES,
        "new_key": new_key,
    }
    if page.request.query_params.get("fragment") == "rows":
        return await page.render("_rows.html", **values)
    empty = not result["items"] and not filters.any and not filters.cursor and error is None
    if empty:
        values["has_spans"] = await page.call(page.store.count_spans, page.project.id) > 0
        keys = await page.call(page.store.list_keys, page.project.id)
        values["live_keys"] = [k for k in keys if k.revoked_ns is None]
        values["snippets"] = snippets(base_url(page.request), new_key or "lmn_…")
        runs = await page.call(page.store.list_experiments, page.project.id, None, 1)
        values["hidden_runs"] = bool(runs)  # an experiment's traces, left out of the list
    return await page.render("traces.html", nav="traces", empty=empty, **values)


def _columns(
    page: Page, filters: Filters, items: list[Any], known: dict[str, Any]
) -> list[score_pages.Column]:
    """The score columns: a fragment of rows keeps its page's (``column=NAME``)."""
    params = page.request.query_params
    if params.get("fragment") == "rows" and "column" in params:
        return [score_pages.Column(name, known.get(name)) for name in params.getlist("column")]
    return score_pages.columns(items, known, filters.score_names())


def _seconds(text: str) -> bool:
    try:
        return 0 <= float(text) <= 1e9  # also refuses nan
    except ValueError:
        return False
