"""What ``lamina.evaluate`` asks of the server: a dataset's items, a new experiment,
and the run's results (the JSON API's /api/v1/datasets and /api/v1/experiments).

Plain ``urllib`` with the project's API key, as scores are sent: the SDK needs no
HTTP library. A request that fails is retried a few times when it may pass (no
answer, 408, 429, 5xx); any other failure raises :class:`ExperimentError` with the
server's own message.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from lamina.sdk.runtime import sdk_version

ATTEMPTS = 4
BACKOFF_SECONDS = 0.5
TIMEOUT_SECONDS = 30.0
BATCH = 500  # items in one request (the server takes at most 1,000)
BATCH_BYTES = 8 << 20  # and about this much JSON (it takes at most 32 MiB)


class ExperimentError(RuntimeError):
    """The server could not be asked, or refused, what an experiment needs."""


@dataclass(frozen=True, slots=True)
class Client:
    base_url: str
    api_key: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer of ``method path`` (the body sent as JSON, when given)."""
        data = None if body is None else json.dumps(body).encode()
        return json.loads(self._send(method, path, data) or b"null")

    def lines(self, path: str) -> list[Any]:
        """A JSONL answer, a value a line."""
        text = self._send("GET", path, None).decode()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def _send(self, method: str, path: str, data: bytes | None) -> bytes:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": f"lamina-python/{sdk_version()}",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            request = urllib.request.Request(self.base_url + path, data, headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                    answer: bytes = response.read()
                    return answer
            except urllib.error.HTTPError as exc:
                with exc:
                    problem = f"HTTP {exc.code}: {_message(exc.read(2000))}"
                if exc.code not in (408, 429) and exc.code < 500:
                    break
            except OSError as exc:
                problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        raise ExperimentError(f"{method} {self.base_url}{path} failed ({problem}).")

    # -- what evaluate asks ------------------------------------------------------

    def dataset_items(self, name: str) -> list[dict[str, Any]]:
        return self.lines(f"/api/v1/datasets/{quote(name, safe='')}/items?format=jsonl")

    def create(self, experiment: dict[str, Any]) -> dict[str, Any]:
        made: dict[str, Any] = self.call("POST", "/api/v1/experiments", experiment)["experiment"]
        return made

    def add_items(self, experiment_id: str, items: list[dict[str, Any]]) -> None:
        """Send the items in requests of at most BATCH items and about BATCH_BYTES."""
        path = f"/api/v1/experiments/{quote(experiment_id, safe='')}/items"
        batch: list[dict[str, Any]] = []
        size = 0
        for item in items:
            length = len(json.dumps(item).encode())
            if batch and (len(batch) == BATCH or size + length > BATCH_BYTES):
                self.call("POST", path, {"items": batch})
                batch, size = [], 0
            batch.append(item)
            size += length
        if batch:
            self.call("POST", path, {"items": batch})


def _message(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    return str(error)[:300]
