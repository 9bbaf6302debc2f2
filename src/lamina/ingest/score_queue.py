"""Scores given through the JSON API, stored by one thread.

``POST /api/v1/scores`` checks its scores on the event loop and hands them here; the
request is answered once they are durable (:meth:`lamina.store.base.Store.add_scores`
returned). This module's thread takes every call waiting, stores each project's scores
with one ``add_scores`` (the DuckDB store syncs its journal once for all of them: a
group commit) and answers all their requests with one wake of the loop. A client giving
one score a request (a thumbs-up handler) is served without the thread pool: there,
each request crossed to a thread and back on its own, which cost about 0.3 ms of the
server's CPU a request (docs/performance.md, sessions 14 and 15).

A sync takes milliseconds, and clients that each wait for their score send the next
one only once answered: so a group waits a moment (:data:`GATHER_SECONDS`) for as many
calls as the last group held, the clients the last write answered, and one sync serves
them all (in its absence four such clients made groups of 1.5; docs/performance.md,
session 15). A lone client's group is of one and never waits.

``add_scores`` is idempotent (a score_id already stored is not stored again), so when
a group's write fails its calls are written again one by one: only the call whose
write fails is refused. Nothing bounds the queue here: each request holds at most
:data:`lamina.query.scores.MAX_BATCH` scores and the server at most
``max_connections`` requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from lamina.errors import StoreUnavailable
from lamina.ingest.grouped import resolve, write_group
from lamina.store.base import Store
from lamina.store.scores import Score

# How long a group waits for the calls of the clients the last write answered: a
# loopback round trip and a client's own work a request, with room.
GATHER_SECONDS = 0.0007


@dataclass
class _Call:
    project_id: str
    scores: Sequence[Score]
    future: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop


class ScoreQueue:
    """The score-storing thread (see the module's text): :meth:`start` it, await
    :meth:`add` from the event loop, :meth:`stop` it once no request is left."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: list[_Call] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._last = 1  # calls the last group held
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lamina-scores", daemon=True)
        self._thread.start()

    async def add(self, project_id: str, scores: Sequence[Score]) -> None:
        """Returns once the scores are stored (durable); raises what storing raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._stopping or self._thread is None:
                raise StoreUnavailable("The server is shutting down; send these scores again.")
            self._queue.append(_Call(project_id, scores, future, loop))
            self._cond.notify()
        # shielded: a request cancelled meanwhile leaves its scores to be stored
        await asyncio.shield(future)

    def stop(self, timeout: float = 30.0) -> None:
        """Store every call already queued, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _take(self) -> list[_Call] | None:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            until = time.monotonic() + GATHER_SECONDS
            while (
                len(self._queue) < self._last
                and not self._stopping
                and (left := until - time.monotonic()) > 0
            ):
                self._cond.wait(left)
            taken, self._queue = self._queue, []
            self._last = max(1, len(taken))
            return taken or None

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            answers: dict[asyncio.AbstractEventLoop, list[tuple[_Call, BaseException | None]]]
            answers = {}
            by_project: dict[str, list[_Call]] = {}
            for call in taken:
                by_project.setdefault(call.project_id, []).append(call)
            for project_id, calls in by_project.items():
                for call, error in zip(calls, self._store_calls(project_id, calls), strict=True):
                    answers.setdefault(call.loop, []).append((call, error))
            for loop, answered in answers.items():
                # RuntimeError: that loop has closed, nobody is waiting
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_answer, answered)

    def _store_calls(self, project_id: str, calls: list[_Call]) -> list[BaseException | None]:
        """Each call's error (None: stored): all in one write, or one by one if that fails."""
        return write_group(
            calls, lambda some: self._write(project_id, [s for call in some for s in call.scores])
        )

    def _write(self, project_id: str, scores: Sequence[Score]) -> BaseException | None:
        try:
            self._store.add_scores(project_id, scores)
        except Exception as exc:  # never let the thread die: answer every request
            return exc
        return None


def _answer(answered: list[tuple[_Call, BaseException | None]]) -> None:
    for call, error in answered:
        resolve(call.future, error)


__all__ = ["ScoreQueue"]
