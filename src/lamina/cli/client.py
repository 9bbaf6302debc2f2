"""The operations of :class:`lamina.operations.Operations`, asked of a running server
through its JSON API (``/api/v1``) with the data dir's admin token: what the commands
use while ``lamina serve`` holds the data dir. Each method answers what the
operation of the same name answers on a store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from lamina.errors import (
    BadRequest,
    ConfigError,
    Conflict,
    Forbidden,
    LaminaError,
    NotFound,
    PayloadTooLarge,
)
from lamina.exchange import export
from lamina.store.comments import Comment
from lamina.store.scores import Score

# An export's lines are handed on a page at a time: at most this many, or about this
# many bytes of them.
PAGE_LINES = 2000
PAGE_BYTES = 8 * 1024 * 1024
# How long an import waits, in all, for a busy server (429 or 503) to take a chunk.
BUSY_SECONDS = 120


class ApiClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self._client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )

    def close(self) -> None:
        self._client.close()

    # -- projects, keys, users -------------------------------------------------------------
    def create_project(self, name: str) -> dict[str, Any]:
        return self._call("POST", "/api/v1/projects", json={"name": name})

    def list_projects(self) -> list[dict[str, Any]]:
        return self._items("/api/v1/projects")

    def get_project(self, project: str) -> dict[str, Any]:
        return self._call("GET", _project_path(project))

    def delete_project(self, project: str) -> dict[str, Any]:
        return self._call("DELETE", _project_path(project))

    def set_retention(self, project: str, days: int | None) -> dict[str, Any]:
        return self._call("PATCH", _project_path(project), json={"retention_days": days})

    def create_key(self, project: str, name: str = "default") -> dict[str, Any]:
        return self._call("POST", "/api/v1/keys", json={"project": project, "name": name})

    def list_keys(self, project: str | None = None) -> list[dict[str, Any]]:
        return self._items("/api/v1/keys", {"project": project} if project else None)

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/keys/{quote(key_id, safe='')}/revoke")

    def create_user(self, email: str, password: str, is_admin: bool = False) -> dict[str, Any]:
        body = {"email": email, "password": password, "is_admin": is_admin}
        return self._call("POST", "/api/v1/accounts", json=body)

    def list_users(self) -> list[dict[str, Any]]:
        return self._items("/api/v1/accounts")

    # -- a project's sessions and traces -----------------------------------------------------
    def list_sessions(self, project: str, params: Mapping[str, str]) -> dict[str, Any]:
        page = self._call("GET", "/api/v1/sessions", params={**params, "project": project})
        page["items"] = [_presented(item) for item in page["items"]]
        return page

    def get_session(self, project: str, session_id: str) -> dict[str, Any]:
        return _presented(self._call("GET", _session_path(session_id), params={"project": project}))

    def get_trace(self, project: str, trace_id: str) -> dict[str, Any]:
        return _presented(self._call("GET", _trace_path(trace_id), params={"project": project}))

    def delete_session(self, project: str, session_id: str) -> dict[str, Any]:
        return self._call("DELETE", _session_path(session_id), params={"project": project})

    def delete_trace(self, project: str, trace_id: str) -> dict[str, Any]:
        return self._call("DELETE", _trace_path(trace_id), params={"project": project})

    # -- scores --------------------------------------------------------------------------------
    def list_scores(self, project: str, params: Mapping[str, str]) -> dict[str, Any]:
        page = self._call("GET", "/api/v1/scores", params={**params, "project": project})
        page["items"] = [_presented(item) for item in page["items"]]
        return page

    def add_score(self, project: str, item: dict[str, Any]) -> dict[str, Any]:
        answer = self._call("POST", "/api/v1/scores", params={"project": project}, json=item)
        return {"score": _presented(answer["score"])}

    def delete_score(self, project: str, score_id: str) -> dict[str, Any]:
        path = f"/api/v1/scores/{quote(score_id, safe='')}"
        answer = self._call("DELETE", path, params={"project": project})
        return {"deleted": _presented(answer["deleted"])}

    # -- comments ------------------------------------------------------------------------------
    def list_comments(self, project: str, params: Mapping[str, str]) -> dict[str, Any]:
        page = self._call("GET", "/api/v1/comments", params={**params, "project": project})
        page["items"] = [_presented(item) for item in page["items"]]
        return page

    def add_comment(self, project: str, item: dict[str, Any]) -> dict[str, Any]:
        answer = self._call("POST", "/api/v1/comments", params={"project": project}, json=item)
        return {"comment": _presented(answer["comment"])}

    def delete_comment(self, project: str, comment_id: str) -> dict[str, Any]:
        path = f"/api/v1/comments/{quote(comment_id, safe='')}"
        answer = self._call("DELETE", path, params={"project": project})
        return {"deleted": _presented(answer["deleted"])}

    # -- datasets ------------------------------------------------------------------------------
    def list_datasets(self, project: str) -> dict[str, Any]:
        found = self._call("GET", "/api/v1/datasets", params={"project": project})
        found["items"] = [_presented(item) for item in found["items"]]
        return found

    def create_dataset(self, project: str, item: dict[str, Any]) -> dict[str, Any]:
        answer = self._call("POST", "/api/v1/datasets", params={"project": project}, json=item)
        return {"dataset": _presented(answer["dataset"])}

    def delete_dataset(self, project: str, name: str) -> dict[str, Any]:
        answer = self._call("DELETE", _dataset_path(name), params={"project": project})
        return {"deleted": _presented(answer["deleted"])}

    def list_dataset_items(
        self, project: str, name: str, params: Mapping[str, str]
    ) -> dict[str, Any]:
        path = _dataset_path(name) + "/items"
        page = self._call("GET", path, params={**params, "project": project})
        page["items"] = [_presented(item) for item in page["items"]]
        return page

    def add_dataset_items(self, project: str, name: str, items: list[Any]) -> dict[str, Any]:
        path = _dataset_path(name) + "/items"
        return self._call("POST", path, params={"project": project}, json={"items": items})

    def create_experiment(self, project: str, given: dict[str, Any]) -> dict[str, Any]:
        params = {"project": project}
        answer = self._call("POST", "/api/v1/experiments", params=params, json=given)
        return {"experiment": _presented(answer["experiment"])}

    def add_experiment_items(
        self, project: str, experiment_id: str, items: list[Any]
    ) -> dict[str, Any]:
        path = f"/api/v1/experiments/{quote(experiment_id, safe='')}/items"
        return self._call("POST", path, params={"project": project}, json={"items": items})

    def delete_dataset_item(self, project: str, name: str, item_id: str) -> dict[str, Any]:
        path = f"{_dataset_path(name)}/items/{quote(item_id, safe='')}"
        answer = self._call("DELETE", path, params={"project": project})
        return {"deleted": _presented(answer["deleted"])}

    def end_session(
        self, project: str, session_id: str, outcome: str | None = None
    ) -> dict[str, Any]:
        body = {"outcome": outcome} if outcome is not None else {}
        path = _session_path(session_id) + "/end"
        answer = _presented(self._call("POST", path, params={"project": project}, json=body))
        if answer.get("outcome"):
            _presented(answer["outcome"])
        return answer

    def set_session_idle_minutes(self, project: str, minutes: int) -> dict[str, Any]:
        body = {"session_idle_minutes": minutes}
        return self._call("PATCH", _project_path(project), json=body)

    # -- export and import ------------------------------------------------------------------
    def export_rows(self, project: str, session_id: str | None = None) -> export.Rows:
        """The pages of ``GET /api/v1/export``, read as they arrive; a LaminaError when
        the download ends before its trailer (the server failed half-way)."""
        params = {"project": project, **({"session_id": session_id} if session_id else {})}
        with self._client.stream("GET", "/api/v1/export", params=params) as response:
            if response.status_code >= 400:
                response.read()
                raise _error(response)
            yield from _pages(_lines(response.iter_bytes()))

    def import_spans(self, project: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
        """Send exported span rows to ``POST /api/v1/import``, checked here first (so
        that an error names the file and line), waiting while the server is busy."""
        from lamina.exchange import importing

        lines = []
        for row in spans:
            importing.to_span("", row)
            line = {k: v for k, v in row.items() if k != "_where"}
            line["kind"] = "span"  # rows read from Parquet have no kind
            lines.append(orjson.dumps(line))
        body = b"\n".join(lines)
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            response = self._send(
                "POST",
                "/api/v1/import",
                params={"project": project},
                content=body,
                headers={"Content-Type": "application/x-ndjson"},
            )
            wait = response.headers.get("retry-after", "")
            busy = response.status_code in (429, 503) and wait.isdigit()
            if not busy or time.monotonic() + int(wait) > deadline:
                answer: dict[str, Any] = _answer(response)
                return answer
            time.sleep(max(1, int(wait)))

    def import_comments(self, project: str, comments: list[Comment]) -> dict[str, Any]:
        """Send comments read from an export (lamina.exchange.comments.read_comments) to
        ``POST /api/v1/import`` as comment lines."""
        lines = [orjson.dumps({"kind": "comment", **asdict(item)}) for item in comments]
        answer = self._call(
            "POST",
            "/api/v1/import",
            params={"project": project},
            content=b"\n".join(lines),
            headers={"Content-Type": "application/x-ndjson"},
        )
        return {"comments": answer["comments"]}

    def import_scores(self, project: str, scores: list[Score]) -> dict[str, Any]:
        """Send scores read from an export (lamina.exchange.scores.read_scores) to
        ``POST /api/v1/import`` as score lines."""
        lines = [orjson.dumps({"kind": "score", **asdict(item)}) for item in scores]
        answer = self._call(
            "POST",
            "/api/v1/import",
            params={"project": project},
            content=b"\n".join(lines),
            headers={"Content-Type": "application/x-ndjson"},
        )
        return {"scores": answer["scores"]}

    # -- evaluators (lamina.web.evaluators) ---------------------------------------------------
    def list_evaluators(self, project: str) -> list[dict[str, Any]]:
        return self._items("/api/v1/evaluators", {"project": project})

    def add_evaluator(self, project: str, definition: Any) -> dict[str, Any]:
        return self._call(
            "POST", "/api/v1/evaluators", params={"project": project}, json=definition
        )

    def test_evaluator(
        self, project: str, evaluator_id: str, target: dict[str, str]
    ) -> dict[str, Any]:
        path = f"/api/v1/evaluators/{quote(evaluator_id, safe='')}/test"
        return self._call("POST", path, params={"project": project}, json=target)

    # -- writes the store set aside -----------------------------------------------------------
    def list_quarantined(self) -> list[dict[str, Any]]:
        return self._items("/api/v1/quarantine")

    def retry_quarantined(self, entry_id: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/quarantine/{quote(entry_id, safe='')}/retry")

    def drop_quarantined(self, entry_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/api/v1/quarantine/{quote(entry_id, safe='')}")

    # -- HTTP ---------------------------------------------------------------------------------
    def _items(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", path, params=params)["items"]
        return items

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        answer: dict[str, Any] = _answer(self._send(method, path, **options))
        return answer

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise ConfigError(f"Cannot reach the Lamina server at {self.url}: {exc}") from exc


def _presented(row: dict[str, Any]) -> dict[str, Any]:
    """A session, trace or span the JSON API sent, its times (ISO text on the wire)
    ``datetime`` again: what :mod:`lamina.query.present` gives on a store."""
    for name in ("start_time", "end_time", "ended_at", "created_at", "updated_at"):
        if isinstance(row.get(name), str):
            row[name] = datetime.fromisoformat(row[name])
    for event in row.get("events") or []:
        if isinstance(event, dict) and isinstance(event.get("time"), str):
            event["time"] = datetime.fromisoformat(event["time"])
    for name in ("traces", "spans", "scores"):
        for item in row.get(name) or []:
            _presented(item)
    return row


def _dataset_path(name: str) -> str:
    return f"/api/v1/datasets/{quote(name, safe='')}"


def _project_path(project: str) -> str:
    return f"/api/v1/projects/{quote(project, safe='')}"


def _session_path(session_id: str) -> str:
    return f"/api/v1/sessions/{quote(session_id, safe='')}"


def _trace_path(trace_id: str) -> str:
    return f"/api/v1/traces/{quote(trace_id, safe='')}"


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise _error(response)
    return response.json()


def _error(response: httpx.Response) -> LaminaError:
    """The server's error, as the error the operation raises on a store."""
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = f"The Lamina server answered {response.status_code}: {response.text[:200]}"
    for cls in (BadRequest, NotFound, Conflict, Forbidden, PayloadTooLarge):
        if cls.status == response.status_code:
            return cls(message)
    return LaminaError(message)


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The lines of a download, without their newlines."""
    rest = b""
    for chunk in chunks:
        *whole, rest = (rest + chunk).split(b"\n")
        yield from whole
    if rest:
        yield rest


def _pages(lines: Iterator[bytes]) -> export.Rows:
    """An export download's lines as pages of one kind each, every kind in order (an
    empty page for a kind without lines); LaminaError unless the download ends with a
    trailer that counts them."""
    kinds = {
        "session": "sessions",
        "trace": "traces",
        "span": "spans",
        "score": "scores",
        "comment": "comments",
        "dataset": "datasets",
        "dataset_item": "dataset_items",
        "experiment": "experiments",
        "experiment_item": "experiment_items",
    }
    counts = dict.fromkeys(export.KINDS, 0)
    page: list[Any] = []
    kind, size, trailer = export.KINDS[0], 0, None
    for raw in lines:
        item = orjson.loads(raw)
        if "lamina_export" in item:
            continue
        if item.get("kind") == "trailer":
            trailer = item
            break
        line_kind = kinds[item["kind"]]
        if line_kind != kind or len(page) >= PAGE_LINES or size >= PAGE_BYTES:
            yield kind, page
            for skipped in export.KINDS[
                export.KINDS.index(kind) + 1 : export.KINDS.index(line_kind)
            ]:
                yield skipped, []
            page, size, kind = [], 0, line_kind
        page.append(item)
        size += len(raw)
        counts[kind] += 1
    # a server from before scores (or comments, or datasets) counts none
    if trailer is None or any(
        trailer.get(k, None if k in export.KINDS[:3] else 0) != n for k, n in counts.items()
    ):
        raise LaminaError(
            "The export from the server was cut short (see the server's log for why); "
            "nothing complete was written. Try again."
        )
    yield kind, page
    for rest in export.KINDS[export.KINDS.index(kind) + 1 :]:
        yield rest, []
