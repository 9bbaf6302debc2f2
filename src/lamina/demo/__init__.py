"""Demo data sent to a real server, the way every client's data reaches it.

- :mod:`~lamina.demo.spans`: the sessions (a support chatbot, a checkout workflow,
  a coding agent, a password reset, their words in :mod:`~lamina.demo.conversations`,
  and returning customers' short chats from :mod:`~lamina.demo.returning`), sent as
  one OTLP/HTTP protobuf request, but for the
  password reset's last turns, sent once the checks have judged its first ones;
- :mod:`~lamina.demo.builder`: how those spans are built (a trace's spans in time,
  LLM calls, recorded exceptions), which the benchmark's workload uses too;
- :mod:`~lamina.demo.scores`: score configs, scores, comments and outcomes on them,
  sent through the JSON API once the spans are stored;
- :mod:`~lamina.demo.comments`: a reviewer's comments, and a star for the users;
- :mod:`~lamina.demo.shares`: a share link of one session, which Settings lists.
- :mod:`~lamina.demo.queries`: saved SQL queries, which the SQL page lists.
- :mod:`~lamina.demo.datasets`: a dataset of support conversations made from the
  sessions (a whole one, two up to a turn, a trace).
- :mod:`~lamina.demo.experiments`: two runs of the support bot over that dataset, the
  second worse on one item, to compare.
- :mod:`~lamina.demo.evaluators`: two checks (an error in the last turn, a long
  session), run over the sessions by a backfill, and an LLM judge defined but off;
  the password reset judged again once its later turns arrive.

``lamina serve --demo`` (``make run``) loads it once per data dir with a key it
makes and revokes; ``lamina demo`` sends it to a running server.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from lamina.demo.comments import remember_star, send_comments
from lamina.demo.datasets import send_dataset
from lamina.demo.evaluators import backfill, send_evaluators, wait_judged
from lamina.demo.experiments import send_experiments
from lamina.demo.queries import send_queries
from lamina.demo.scores import send_scores
from lamina.demo.shares import send_share
from lamina.demo.spans import demo_sessions, export_request

if TYPE_CHECKING:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    from lamina.server_runtime import ServerRuntime

log = logging.getLogger("lamina.demo")
DEMO_SETTING = "demo_loaded"


def send(url: str, key: str, progress: bool = False, admin: tuple[str, str] | None = None) -> int:
    """Send the demo data to the server at ``url``; returns the number of spans sent.
    With ``admin`` (the admin token and the key's project name) the reviewer's scores
    keep their source ui (see lamina.demo.scores)."""
    now_ns = time.time_ns()
    sessions = demo_sessions(now_ns=now_ns)
    first = [spans for session in sessions for spans in session.sent_first()]
    later = [spans for session in sessions for spans in session.sent_later()]
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30) as client:
        _send_spans(client, first)
        scores = send_scores(client, sessions, now_ns, admin)
        send_comments(client, sessions, now_ns, admin)
        send_share(client, sessions)
        send_dataset(client, sessions)
        send_experiments(client)
        send_evaluators(client)
        send_queries(client)
        for session in sessions:
            if session.later and not wait_judged(client, session.session_id):
                log.warning(
                    "The demo's checks had not judged session %s yet; its later turns are "
                    "sent anyway, so it may be judged once only.",
                    session.session_id,
                )
        _send_spans(client, later)
        backfill(client)
    log.debug("Sent %d demo scores.", scores)
    return sum(len(spans) for spans in first + later)


def _send_spans(client: httpx.Client, traces: list[list[Span]]) -> None:
    body = gzip.compress(export_request(traces).SerializeToString())
    response = client.post(
        "/v1/traces",
        content=body,
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )
    if response.status_code != 200:
        raise RuntimeError(
            f"The server refused the demo data: {response.status_code} {response.text[:200]}"
        )


async def load_on_start(runtime: ServerRuntime, info: dict[str, Any]) -> None:
    """Send the demo data to this server once per data dir (``lamina serve --demo``)."""
    from lamina import auth
    from lamina.operations import DEFAULT_PROJECT

    store = runtime.store
    if loaded := store.get_setting(DEMO_SETTING):
        when = datetime.fromtimestamp(int(loaded) / 1e9, UTC).strftime("%Y-%m-%d %H:%M UTC")
        log.info("The demo data was loaded into this data dir on %s; not sent again.", when)
        return
    project = store.find_project(DEFAULT_PROJECT)
    if project is None:
        return
    key, record = auth.create_key(store, project.id, "demo-loader")
    try:
        admin = (runtime.admin_token, project.name)
        count = await asyncio.to_thread(send, info["url"], key, False, admin)
        await asyncio.to_thread(remember_star, store, project.id, demo_sessions())
        store.set_setting(DEMO_SETTING, str(time.time_ns()))
        log.info("Loaded %d demo spans and their scores into project %s.", count, project.name)
    except Exception as exc:  # the server runs on without demo data
        log.error("Could not load the demo data: %s", exc)
    finally:
        store.revoke_key(record.id)
        runtime.keys.forget()
