"""Scores and session ends, delivered to the server from a background thread.

``Laminar.score`` and ``Laminar.end_session`` are usually called from a web
handler long after the trace (a thumbs-up button), so they must never block or
raise into the application, and a score once given must arrive exactly once:

- the caller's thread only appends to a bounded queue (:data:`MAX_PENDING`);
  when it is full the new item is dropped, counted and logged once;
- one daemon thread sends what is queued, in order: runs of scores as one
  ``POST /api/v1/scores`` of at most :data:`MAX_BATCH` (and about
  :data:`MAX_BATCH_BYTES` of JSON), a session end as its own
  ``POST /api/v1/sessions/{id}/end``;
- a failure that may pass (connection refused or reset, a timeout, 408, 429,
  any 5xx) keeps the items at the head of the queue and retries them with
  backoff (:data:`BACKOFFS`, or the server's ``Retry-After``), for as long as
  the process runs; every score carries the ``score_id`` made when it was
  given, so a retry of a request the server did store is not a second score;
- a 4xx answer is final: a batch of several is split in halves to find the
  scores the server refuses, and each refused one is dropped with a warning
  (one per distinct reason) naming the server's message;
- :meth:`ScoreSender.flush` wakes the thread and waits at most its timeout for
  everything queued before it; it returns whether all of it was delivered.
"""

from __future__ import annotations

import collections
import email.utils
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

log = logging.getLogger("lamina.sdk")

MAX_PENDING = 10_000
MAX_BATCH = 1_000  # what the server takes in one request
MAX_BATCH_BYTES = 1 << 20
#: Seconds to wait before the next attempt after 1, 2, 3, ... failures in a row.
BACKOFFS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
#: Items queued since the thread last woke are sent after this, so a burst goes as one batch.
LINGER_SECONDS = 0.05
MAX_REASONS_LOGGED = 20


@dataclass(frozen=True, slots=True)
class Answer:
    """What one request came to: ``status`` 0 when no HTTP answer arrived."""

    status: int
    message: str
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status in (0, 408, 429) or self.status >= 500


#: ``post(path, body) -> Answer``; never raises.
Post = Callable[[str, bytes], Answer]


def http_post(base_url: str, api_key: str, timeout_seconds: float, user_agent: str) -> Post:
    """A :data:`Post` sending JSON to ``base_url`` with the project's API key."""
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "User-Agent": user_agent,
    }

    def post(path: str, body: bytes) -> Answer:
        request = urllib.request.Request(base_url + path, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
                response.read()
                return Answer(response.status, "")
        except urllib.error.HTTPError as exc:
            with exc:
                text = exc.read(2000).decode("utf-8", "replace")
                wait = _retry_after(exc.headers.get("Retry-After"))
                return Answer(exc.code, _error_text(text), wait)
        except Exception as exc:  # connection refused, reset, timeout, a bad answer
            reason = getattr(exc, "reason", None) or exc
            return Answer(0, f"{type(reason).__name__}: {reason}")

    return post


def _error_text(body: str) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.strip()[:300]
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed)
        if isinstance(error, dict):
            return str(error.get("message") or error)[:300]
        return str(error)[:300]
    return body.strip()[:300]


def _retry_after(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        moment = email.utils.parsedate_to_datetime(header)
        return None if moment is None else max(0.0, moment.timestamp() - time.time())


@dataclass(frozen=True, slots=True)
class Pending:
    """One queued item: a score (``score`` is its JSON object) or a session end."""

    seq: int
    score: bytes | None = None
    end_path: str = ""
    end_body: bytes = b""


def end_path(session_id: str) -> str:
    return f"/api/v1/sessions/{quote(session_id, safe='')}/end"


class ScoreSender:
    """A bounded queue of scores and session ends, drained by one daemon thread."""

    def __init__(self, post: Post, *, where: str) -> None:
        self._post = post
        self._where = where
        self._lock = threading.Lock()
        self._queue: collections.deque[Pending] = collections.deque()
        self._wake = threading.Event()  # something was queued
        self._urgent = threading.Event()  # a flush or shutdown: retry now
        self._seq = 0  # the last seq given
        self._resolved = 0  # every item up to this seq is delivered or dropped
        self._last_dropped = 0  # the seq of the last item dropped
        self._waiters: list[_Waiter] = []
        self._shutdown = False
        self.delivered = 0
        self.dropped_queue_full = 0
        self.dropped_refused = 0
        self.failures_in_a_row = 0
        self._reasons: set[str] = set()
        self._worker = self._start()
        if hasattr(os, "register_at_fork"):
            reinit = weakref.WeakMethod(self._after_fork)
            os.register_at_fork(after_in_child=lambda: (method := reinit()) and method())

    def _start(self) -> threading.Thread:
        worker = threading.Thread(target=self._run, name="lamina-scores", daemon=True)
        worker.start()
        return worker

    def _after_fork(self) -> None:
        """In a forked child: the parent's queue is the parent's to send."""
        self._lock = threading.Lock()
        self._queue.clear()
        self._wake = threading.Event()
        self._urgent = threading.Event()
        self._waiters = []
        self._resolved = self._seq
        if not self._shutdown:
            self._worker = self._start()

    # -- caller's thread ----------------------------------------------------------

    def add_score(self, score: dict[str, Any]) -> None:
        self._add(lambda seq: Pending(seq, score=json.dumps(score).encode()))

    def add_session_end(self, session_id: str) -> None:
        self._add(lambda seq: Pending(seq, end_path=end_path(session_id), end_body=b"{}"))

    def _add(self, make: Callable[[int], Pending]) -> None:
        with self._lock:
            if self._shutdown:
                return
            if len(self._queue) >= MAX_PENDING:
                self.dropped_queue_full += 1
                first = self.dropped_queue_full == 1
            else:
                self._seq += 1
                self._queue.append(make(self._seq))
                first = False
        if first:
            log.warning(
                "Lamina: %d scores are waiting to be sent to %s (it is unreachable or "
                "refusing them), so new scores are dropped. This is logged once; the count "
                "is logged at shutdown.",
                MAX_PENDING,
                self._where,
            )
        self._wake.set()

    @property
    def failing(self) -> bool:
        return self.failures_in_a_row > 0

    def flush(self, timeout_seconds: float) -> bool:
        """Wait until everything queued before this call is delivered or dropped,
        at most ``timeout_seconds``; True when all of it was delivered."""
        with self._lock:
            if self._shutdown or self._resolved >= self._seq:
                return self._resolved >= self._seq
            waiter = _Waiter(self._seq, self._resolved)
            self._waiters.append(waiter)
        self._urgent.set()
        self._wake.set()
        if not waiter.done.wait(max(timeout_seconds, 0.0)):
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            return False
        return waiter.ok

    def shutdown(self, timeout_seconds: float) -> None:
        """Send what is queued within ``timeout_seconds``, then stop for good."""
        if self._shutdown:
            return
        deadline = time.monotonic() + timeout_seconds
        self.flush(timeout_seconds)
        with self._lock:
            self._shutdown = True
            unsent = len(self._queue)
            self._queue.clear()
        self._urgent.set()
        self._wake.set()
        self._worker.join(max(0.0, deadline - time.monotonic()))
        lost = unsent + self.dropped_queue_full + self.dropped_refused
        if lost:
            log.warning(
                "Lamina: %d scores or session ends were not delivered to %s (%d still waiting "
                "at shutdown, %d because the queue was full, %d refused by the server); %d "
                "were delivered.",
                lost,
                self._where,
                unsent,
                self.dropped_queue_full,
                self.dropped_refused,
                self.delivered,
            )

    # -- the sending thread --------------------------------------------------------

    def _run(self) -> None:
        while not self._shutdown:
            self._wake.wait()
            self._wake.clear()
            if not self._waiters:
                time.sleep(LINGER_SECONDS)  # let a burst gather into one batch
            try:
                while not self._shutdown and self._send_head():
                    pass
            except Exception:  # a bug of ours: keep the thread, and the scores, alive
                log.exception("Lamina: sending scores failed; retrying in a second")
                self._urgent.wait(1.0)
                self._wake.set()

    def _send_head(self) -> bool:
        """Send the items at the head of the queue; False when there is nothing
        left to send or the server must be waited for."""
        with self._lock:
            head = self._head()
        if not head:
            return False
        answer = self._send(head)
        if answer is None:  # delivered, or refused and dropped
            if self.failures_in_a_row:
                log.warning("Lamina: sending scores to %s works again.", self._where)
            self.failures_in_a_row = 0
            return True
        self.failures_in_a_row += 1
        if self.failures_in_a_row == 1:
            log.warning(
                "Lamina: could not send scores to %s (%s); they are kept and retried. The "
                "application is not affected.",
                self._where,
                answer.message or f"HTTP {answer.status}",
            )
        backoff = BACKOFFS[min(self.failures_in_a_row, len(BACKOFFS)) - 1]
        if answer.retry_after is not None:
            backoff = min(max(backoff, answer.retry_after), 60.0)
        # A flush or shutdown cuts the wait short (a score queued meanwhile does not).
        self._urgent.wait(backoff)
        self._urgent.clear()
        return not self._shutdown

    def _head(self) -> list[Pending]:
        """The next request's items: a session end, or a run of scores."""
        if not self._queue:
            return []
        first = self._queue[0]
        if first.score is None:
            return [first]
        items: list[Pending] = []
        size = 0
        for item in self._queue:
            if item.score is None or len(items) == MAX_BATCH:
                break
            size += len(item.score) + 1
            if items and size > MAX_BATCH_BYTES:
                break
            items.append(item)
        return items

    def _send(self, items: list[Pending]) -> Answer | None:
        """Send ``items`` (the head of the queue); None once they are resolved
        (delivered or refused), else the answer that says to retry."""
        if items[0].score is None:
            answer = self._post(items[0].end_path, items[0].end_body)
        else:
            body = b'{"scores":[' + b",".join(i.score or b"" for i in items) + b"]}"
            answer = self._post("/api/v1/scores", body)
        if answer.retryable:
            return answer
        if answer.delivered:
            self._resolve(items, delivered=True)
            return None
        if len(items) > 1:  # find the ones the server refuses
            half = len(items) // 2
            for part in (items[:half], items[half:]):
                retry = self._send(part)
                if retry is not None:
                    return retry
            return None
        self._refused(answer)
        self._resolve(items, delivered=False)
        return None

    def _refused(self, answer: Answer) -> None:
        self.dropped_refused += 1
        reason = f"HTTP {answer.status}: {answer.message}"
        if reason in self._reasons or len(self._reasons) >= MAX_REASONS_LOGGED:
            return
        self._reasons.add(reason)
        hint = " (check the project API key)" if answer.status in (401, 403) else ""
        log.warning(
            "Lamina: the server at %s refused a score or session end, so it is dropped: "
            "%s%s. Further refusals for the same reason are counted, not logged.",
            self._where,
            reason,
            hint,
        )

    def _resolve(self, items: list[Pending], *, delivered: bool) -> None:
        last = items[-1].seq
        with self._lock:
            while self._queue and self._queue[0].seq <= last:
                self._queue.popleft()
            self._resolved = max(self._resolved, last)
            if delivered:
                self.delivered += len(items)
            else:
                self._last_dropped = max(self._last_dropped, last)
            waiters = [w for w in self._waiters if w.target <= self._resolved]
            for waiter in waiters:
                self._waiters.remove(waiter)
                waiter.ok = self._last_dropped <= waiter.resolved_at_call
        for waiter in waiters:
            waiter.done.set()


class _Waiter:
    __slots__ = ("done", "ok", "resolved_at_call", "target")

    def __init__(self, target: int, resolved_at_call: int) -> None:
        self.target = target
        self.resolved_at_call = resolved_at_call
        self.done = threading.Event()
        self.ok = False
