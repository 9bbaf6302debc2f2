"""The runner: judges each session or trace once it goes quiet, in the server process.

Every ``evaluator_poll_ms`` it asks the store, for each enabled evaluator, which of its
targets went quiet (no span for ``quiet_seconds``) at a version that has no run yet,
and queues them (:meth:`Store.queue_runs`: one run per version, so a target is queued
again only when spans arrived since). Then it claims runs, CLAIM_BATCH for each of its
workers (``evaluator_concurrency``, default 2: the runs done at once, each in a thread
apart from ingest, which never waits for them), and claims again as soon as the
workers have room, without waiting for the next poll. Checks are claimed apart, in
batches of CHECK_CLAIM for as many workers of their own: an LLM judge's calls (a
second each, or a minute's timeout when its endpoint is down) never hold them up.

A run: the target read as stored now; filtered (name, tag, metadata) and sampled
(``sample_rate``, the same answer for every version of a target) or ``skipped``;
judged (a check, or the LLM judge: lamina.evaluation.judgement); its score written
(source ``evaluator:<name>``, citing its turn's trace id; the score's id made from the
run's, so a run done twice writes one score); the run saved ``ok``; then the
evaluator's older ``ok`` runs of the same target are superseded: their scores deleted
(the session's summary counts the newest judgement only) and the run marked
``superseded_ns`` (it keeps the old value, label and comment: the history). A failure
the endpoint may recover from is queued again with a backoff, up to MAX_ATTEMPTS
(lamina.evaluation.runs); any
other is the run's ``error``; either way the run's ``failed_ns`` says when
(lamina.evaluation.health reads it).

A server that stops mid-run leaves it ``running``: its lease runs out and a server
claims it again (the DuckDB store's one process, at once on its next start).

The poll and each run or check batch about to start give way to a pressed ingest
(lamina.evaluation.giving_way).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from lamina.evaluation import llm
from lamina.evaluation.budget import Budgets, next_day
from lamina.evaluation.checks import Reads
from lamina.evaluation.clients import Clients
from lamina.evaluation.definition import spec_of
from lamina.evaluation.giving_way import give_way
from lamina.evaluation.judgement import judge_target, judged_here
from lamina.evaluation.lanes import CHECK_CLAIM, CLAIM_BATCH, Lane
from lamina.evaluation.runs import SECOND_NS, again, queue, skipped, waits
from lamina.evaluation.secrets import KeyBox
from lamina.evaluation.superseding import supersede, supersede_all
from lamina.evaluation.target import Target, load, load_many
from lamina.ingest.load import IngestLoad
from lamina.judging import JudgeError
from lamina.settings import Settings
from lamina.store.base import Store
from lamina.store.evaluators import Evaluator, Run, RunStatus
from lamina.store.scores import Score

log = logging.getLogger("lamina.evaluation")
QUEUE_PAGE = 500  # targets queued an evaluator a poll
# A poll asks for targets whose last span ended after the previous poll's end less this
# (the store stores a write within seconds); all of them again every RESCAN_NS.
RESCAN_SLACK_NS = 10 * 60 * 1_000_000_000
RESCAN_NS = 10 * 60 * 1_000_000_000


class Runner:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        on_room: Callable[[], None] = lambda: None,
        ingest: IngestLoad | None = None,
    ) -> None:
        self.store = store
        self.ingest = ingest  # None: never gives way
        self._closing = threading.Event()
        self.on_room = on_room  # called (on a worker thread) when a lane has room again
        self.concurrency = settings.evaluator_concurrency
        self.lease_ns = settings.evaluator_lease_seconds * SECOND_NS
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.keys = KeyBox(settings.data_dir)
        self.clients = Clients()  # the judges' calls' clients, kept
        self.allowed = llm.allowed_hosts(settings.evaluator_allowed_hosts)
        self.budgets = Budgets(store)
        workers = self.concurrency or 1
        # LLM judges' runs and checks' batches are done apart: a judge's calls (a
        # second or more each) never hold up the checks, which take milliseconds
        judging, checking = (ThreadPoolExecutor(workers, f"lamina-{n}") for n in ("eval", "check"))
        self._judges = Lane(judging, workers * CLAIM_BATCH, least=workers)
        self._checks = Lane(checking, workers * CHECK_CLAIM, least=CHECK_CLAIM)
        self.poll_ns = settings.evaluator_poll_ms * 1_000_000
        self._looked_ns = 0  # when quiet targets were last looked for
        self._rescanned_ns = 0  # when they were last looked for from the start
        self._reached: dict[str, int] = {}  # per evaluator: the last look's end
        self._held: set[str] = set()  # the runs claimed and not done
        self._lock = threading.Lock()
        self._evaluators: dict[str, Evaluator] = {}

    def poll(self, now: int | None = None) -> int:
        """Queue what went quiet (at most every poll interval), then claim runs for the
        free places of the local backlog (:meth:`_claim`) and hand them to the workers;
        how many were claimed."""
        give_way(self.ingest, self._closing)
        now = time.time_ns() if now is None else now
        if now - self._looked_ns >= self.poll_ns:
            self._looked_ns = now
            evaluators: dict[str, Evaluator] = {}
            full = now - self._rescanned_ns >= RESCAN_NS
            if full:
                self._rescanned_ns = now
            with self.store.reading_stored():
                self._look(evaluators, now, full)
            self._evaluators = evaluators
        return self._claim(now)

    def _look(self, evaluators: dict[str, Evaluator], now: int, full: bool) -> None:
        """Queue the enabled evaluators' targets that went quiet (one read a project and
        kind of target for all its evaluators); note every evaluator."""
        for project in self.store.list_projects():
            by_kind: dict[str, list[Evaluator]] = {}
            for evaluator in self.store.list_evaluators(project.id):
                evaluators[evaluator.evaluator_id] = evaluator
                if evaluator.enabled:
                    by_kind.setdefault(evaluator.target, []).append(evaluator)
            for kind, of_kind in by_kind.items():
                self._queue_quiet(project.id, kind, of_kind, now, full)

    def _claim(self, now: int) -> int:
        """Claim judges' runs (CLAIM_BATCH a worker) and checks' runs (CHECK_CLAIM a
        worker) apart, each lane once it has room; hand them to the workers."""
        check_ids = [e.evaluator_id for e in self._evaluators.values() if _is_check(e)]
        claimed = 0
        if self._judges.has_room():
            others = self._claimed(now, self._judges, not_of=check_ids)
            claimed += len(others)
            for run in others:
                self._judges.pool.submit(self._do, run)
        if check_ids and self._checks.has_room():
            found = self._claimed(now, self._checks, of=check_ids)
            claimed += len(found)
            self._hand_checks(found)
        return claimed

    def _claimed(
        self, now: int, lane: Lane, of: list[str] | None = None, not_of: list[str] | None = None
    ) -> list[Run]:
        """Claim the free places of ``lane`` (runs of the evaluators ``of``, of none
        ``not_of``), counted busy: those this server did not hold already. An
        evaluator made (or enabled) since the last look is read now, not skipped."""
        with self._lock:
            want = lane.size - lane.busy
        claimed = self.store.claim_runs(self.owner, now, self.lease_ns, want, of, not_of or ())
        with self._lock:
            # one whose lease ran out while it waited here is this server's still
            fresh = [run for run in claimed if run.run_id not in self._held]
            self._held.update(run.run_id for run in fresh)
            lane.busy += len(fresh)
        self._know(fresh)
        return fresh

    def _know(self, runs: list[Run]) -> None:
        """Read again the evaluators of the projects of ``runs`` of an evaluator this
        runner does not know enabled (made, or enabled, since its last look)."""
        projects = {
            run.project_id
            for run in runs
            if not (known := self._evaluators.get(run.evaluator_id)) or not known.enabled
        }
        if projects:
            evaluators = dict(self._evaluators)
            for project_id in projects:
                evaluators |= {e.evaluator_id: e for e in self.store.list_evaluators(project_id)}
            self._evaluators = evaluators

    def _hand_checks(self, runs: list[Run]) -> None:
        """Check runs to the check workers in batches of CHECK_CLAIM at most, a target's
        runs in one batch (it is read once)."""
        targets: dict[tuple[str, str, str], list[Run]] = {}
        for run in runs:
            targets.setdefault((run.project_id, run.target, run.target_id), []).append(run)
        count = -(-len(runs) // CHECK_CLAIM)  # at least one a worker with room
        batches: list[list[Run]] = [[] for _ in range(count)]
        for at, of_target in enumerate(targets.values()):
            batches[at % count] += of_target
        for batch in batches:
            if batch:
                self._checks.pool.submit(self._do_checks, batch)

    def _queue_quiet(
        self, project_id: str, kind: str, evaluators: list[Evaluator], now: int, full: bool
    ) -> None:
        """Queue the evaluators' targets that went quiet at a version without a run. The
        store is asked from where the last look reached (less RESCAN_SLACK_NS), so a
        poll reads what is new; every RESCAN_NS (and at start) from the start, for
        spans that came long after their end times."""
        windows: dict[str, tuple[int, int]] = {}
        for evaluator in evaluators:
            quiet = spec_of(evaluator).get("quiet_seconds", 0) * SECOND_NS
            # from the targets still live when it was made on; those quiet then: a backfill
            since = evaluator.created_ns - quiet
            reached = self._reached.get(evaluator.evaluator_id)
            if reached is not None and not full:
                since = max(since, reached - RESCAN_SLACK_NS)
            windows[evaluator.evaluator_id] = (since, now - quiet)
        found = self.store.quiet_targets(project_id, kind, windows, QUEUE_PAGE)
        queue(self.store, project_id, evaluators, found, now)
        for evaluator_id, (_, until) in windows.items():
            page = found[evaluator_id]
            # a full page may leave more: look again from its last one
            self._reached[evaluator_id] = page[-1].end_ns if len(page) == QUEUE_PAGE else until

    def _do(self, run: Run) -> None:
        self._done_oragain([run], self._judges, self.execute)

    def _do_checks(self, runs: list[Run]) -> None:
        self._done_oragain(runs, self._checks, self.execute_checks)

    def _done_oragain(
        self, runs: list[Run], lane: Lane, execute: Callable[[list[Run]], object]
    ) -> None:
        """Do the runs (``execute``); a failure queues them again; either way they leave
        the lane, which may have room for a claim."""
        try:
            give_way(self.ingest, self._closing)
            with self.store.reading_stored():  # never makes the store commit early
                execute(runs)
        except Exception as exc:
            log.exception("%d evaluator runs failed; they are queued again", len(runs))
            for run in runs:
                try:
                    self.store.save_run(again(run, f"The run failed: {exc}", time.time_ns()))
                except Exception:  # the store is down: the lease runs out, then it runs again
                    log.exception("evaluator run %s could not be saved", run.run_id)
        finally:
            with self._lock:
                lane.busy -= len(runs)
                self._held.difference_update(run.run_id for run in runs)
                room = lane.has_room()
            if room:
                self.on_room()

    def execute(self, runs: list[Run]) -> list[Run]:
        """Do each run and save its end (an ok one's score written first, the older runs
        it supersedes marked after it is saved); the runs as saved."""
        return [self._execute(run) for run in runs]

    def _execute(self, run: Run) -> Run:
        evaluator = self._evaluators.get(run.evaluator_id)
        if evaluator is not None and spec_of(evaluator)["kind"] == "check":
            # a check's run claimed before the runner knew it for one: done as checks are
            return self.execute_checks([run])[0]
        done = self._judged(run)
        self.store.save_run(done)
        if done.status == RunStatus.OK:
            done = supersede(self.store, done)
        return done

    def execute_checks(self, runs: list[Run]) -> list[Run]:
        """:meth:`execute` for check runs, together: each target read once (all of a
        project's in one read), the scores given in one call a project, then each run
        saved and the older ones superseded; the runs as saved."""
        now = time.time_ns()
        targets: dict[tuple[str, str, str], Target | None] = {}
        wanted: dict[tuple[str, str], list[str]] = {}
        reads: dict[tuple[str, str], Reads] = {}  # what their checks read
        for run in runs:
            of = (run.project_id, run.target)
            wanted.setdefault(of, []).append(run.target_id)
            evaluator = self._evaluators.get(run.evaluator_id)
            spec = spec_of(evaluator) if evaluator is not None else {}
            if spec.get("kind") == "check":
                reads[of] = reads.get(of, Reads()).adding(spec["check"])
        for (project_id, kind), ids in wanted.items():
            read = reads.get((project_id, kind), Reads())
            found = load_many(self.store, project_id, kind, ids, read.payloads, read.spans)
            for target_id, target in found.items():
                targets[(project_id, kind, target_id)] = target
        finished: list[Run] = []
        given: dict[str, list[Score]] = {}
        for run in runs:
            target = targets[(run.project_id, run.target, run.target_id)]
            done, score = self._checked(run, target, now)
            finished.append(done)
            if score is not None:
                given.setdefault(run.project_id, []).append(score)
        for project_id, scores in given.items():
            self.store.add_scores(project_id, scores)
        self.store.save_runs(finished)
        now_as = supersede_all(self.store, [d for d in finished if d.status == RunStatus.OK])
        return [now_as.get(done.run_id, done) for done in finished]

    def _checked(self, run: Run, target: Target | None, now: int) -> tuple[Run, Score | None]:
        """A check run's end and the score it gives (None: none)."""
        done = dataclasses.replace(run, finished_ns=now, lease_owner=None, lease_until_ns=0)
        evaluator = self._evaluators.get(run.evaluator_id)
        if evaluator is None or not evaluator.enabled:
            return skipped(done, "The evaluator is disabled."), None
        if target is None:
            return skipped(done, "The target was deleted."), None
        started = time.perf_counter()
        outcome = judge_target(
            self.store, evaluator, spec_of(evaluator), target, run, self.keys, self.allowed
        )
        if outcome.score is None:
            return dataclasses.replace(done, status=RunStatus.SKIPPED, **outcome.fields), None
        fields = {"latency_ms": (time.perf_counter() - started) * 1000, **outcome.fields}
        ok = dataclasses.replace(
            done, status=RunStatus.OK, score_id=outcome.score.score_id, error=None, **fields
        )
        return ok, outcome.score

    def _judged(self, run: Run) -> Run:
        """An LLM judge's run's end, its score written when it is ok."""
        evaluator = self._evaluators.get(run.evaluator_id)
        now = time.time_ns()
        done = dataclasses.replace(run, finished_ns=now, lease_owner=None, lease_until_ns=0)
        if evaluator is None or not evaluator.enabled:
            return skipped(done, "The evaluator is disabled.")
        spec = spec_of(evaluator)
        target = load(self.store, run.project_id, run.target, run.target_id)
        if target is None:
            return skipped(done, "The target was deleted.")
        if judged_here(evaluator, spec, target):
            over = self.budgets.over(run, spec, now)
            if over is not None:
                return waits(run, over, next_day(now))
        started = time.perf_counter()
        try:
            outcome = judge_target(
                self.store,
                evaluator,
                spec,
                target,
                run,
                self.keys,
                self.allowed,
                clients=self.clients,
            )
        except JudgeError as exc:
            spent = llm.run_fields(exc)
            if spent:
                self.budgets.spend(run.evaluator_id, exc.input_tokens + exc.output_tokens, now)
            if exc.retryable:
                return again(run, exc.message, now, exc.retry_after_s)
            return dataclasses.replace(
                done, status=RunStatus.ERROR, error=exc.message, failed_ns=now, **spent
            )
        if outcome.verdict is not None:
            found = outcome.verdict
            self.budgets.spend(run.evaluator_id, found.input_tokens + found.output_tokens, now)
        fields = {"latency_ms": (time.perf_counter() - started) * 1000, **outcome.fields}
        if outcome.score is None:
            return dataclasses.replace(done, status=RunStatus.SKIPPED, **outcome.fields)
        self.store.add_scores(run.project_id, [outcome.score])
        return dataclasses.replace(
            done, status=RunStatus.OK, score_id=outcome.score.score_id, error=None, **fields
        )

    def close(self) -> None:
        self._closing.set()
        for lane in (self._judges, self._checks):
            lane.pool.shutdown(wait=False, cancel_futures=True)
        self.clients.close()


def _is_check(evaluator: Evaluator) -> bool:
    return evaluator.enabled and spec_of(evaluator)["kind"] == "check"


async def keep_running(store: Store, settings: Settings, ingest: IngestLoad | None = None) -> None:
    """Poll for ever (until cancelled, at the server's stop): again as soon as a lane has
    room (a run done), else after the poll interval. A full lane's claim finds nothing:
    waiting out the interval then left its workers idle (checks take milliseconds)."""
    loop = asyncio.get_running_loop()
    room = asyncio.Event()

    def on_room() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: the server stopped
            loop.call_soon_threadsafe(room.set)

    runner = Runner(store, settings, on_room, ingest)
    interval = settings.evaluator_poll_ms / 1000
    try:
        while True:
            room.clear()  # a run done from now on sets it
            try:
                await asyncio.to_thread(runner.poll)
            except Exception:  # a store that cannot answer now may later; never stop
                log.exception("evaluators: could not look for work; will try again")
                await asyncio.sleep(interval)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(room.wait(), interval)
    finally:
        runner.close()
