"""What a running server holds: settings, store, decoder, writers (spans, scores), keys,
the admin token, and the web pages' accounts.

One object, passed to the HTTP app and the gRPC servicer, instead of a factory
with many arguments; ``lamina serve`` (lamina.serve.server) builds it. Both
receivers ingest through :meth:`ServerRuntime.ingest`. (The SDK an application
runs has its own state, lamina.sdk.runtime; the two share nothing.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request

from lamina.auth import KeyResolver
from lamina.ingest.batcher import IngestBatcher
from lamina.ingest.budget import ByteBudget
from lamina.ingest.decoder import Decoder
from lamina.ingest.load import IngestLoad
from lamina.ingest.score_queue import ScoreQueue
from lamina.pricing import PriceTable
from lamina.settings import Settings
from lamina.spans.batch import ColumnBatch
from lamina.store.base import Project, Store, User


class Visitor(Protocol):
    """A signed-in browser, as the JSON API needs it."""

    @property
    def user(self) -> User: ...

    @property
    def csrf(self) -> str: ...


class BrowserAccounts(Protocol):
    """What the web pages (lamina.web.pages.accounts.Accounts) tell the JSON API about
    a browser that sends no API key: who is signed in, and what they may see."""

    async def visitor(self, request: Request) -> Visitor | None: ...

    def may_see(self, user: User, project: Project) -> bool: ...


@dataclass
class ServerRuntime:
    settings: Settings
    store: Store
    batcher: IngestBatcher
    scores: ScoreQueue  # the JSON API's scores (lamina.web.scores)
    keys: KeyResolver
    decoder: Decoder
    bodies: ByteBudget
    load: IngestLoad  # how hard span requests press (the evaluator runner gives way)
    # The data dir's admin token (lamina.operations.admin_token): what the `lamina`
    # command sends to a server that holds the data dir.
    admin_token: str
    # Set by the web pages when they are installed (lamina.web.pages.install).
    accounts: BrowserAccounts | None = None

    @classmethod
    def build(cls, settings: Settings, store: Store, admin_token: str) -> ServerRuntime:
        PriceTable.load(settings.price_file)  # a bad price file fails here, with its reason
        return cls(
            settings=settings,
            store=store,
            batcher=IngestBatcher(store, settings.max_queue_spans, settings.max_batch_spans),
            scores=ScoreQueue(store),
            keys=KeyResolver(store),
            decoder=Decoder(
                settings.workers_for_decoding,
                settings.price_file,
                settings.max_queue_spans,
                settings.max_body_bytes,
            ),
            bodies=ByteBudget(settings.max_inflight_bytes),
            load=IngestLoad(),
            admin_token=admin_token,
        )

    async def ingest(
        self, project_id: str, body: bytes, content_type: str, encoding: str = "identity"
    ) -> ColumnBatch:
        """Decode, normalise and store one export body (compressed as ``encoding``
        says); returns its batch once it is committed."""
        with self.load.request():
            with self.batcher.arriving():
                batch = await self.decoder.decode(body, content_type, project_id, encoding)
                if not batch.count:
                    return batch
                committed = self.batcher.enqueue(batch)
            await committed
        return batch
