"""What a running server holds: settings, store, decoder, writer, keys.

One object, passed to the HTTP app and the gRPC servicer, instead of a
factory with many arguments. Both receivers ingest through :meth:`ingest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lamina.auth import KeyResolver
from lamina.ingest.batcher import IngestBatcher
from lamina.ingest.budget import ByteBudget
from lamina.ingest.decoder import Decoder
from lamina.pricing import PriceTable
from lamina.settings import Settings
from lamina.spans.batch import ColumnBatch
from lamina.store.base import Store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    batcher: IngestBatcher
    keys: KeyResolver
    decoder: Decoder
    bodies: ByteBudget
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, store: Store) -> Runtime:
        PriceTable.load(settings.price_file)  # a bad price file fails here, with its reason
        return cls(
            settings=settings,
            store=store,
            batcher=IngestBatcher(store, settings.max_queue_spans, settings.max_batch_spans),
            keys=KeyResolver(store),
            decoder=Decoder(
                settings.workers_for_decoding,
                settings.price_file,
                settings.max_queue_spans,
                settings.max_body_bytes,
            ),
            bodies=ByteBudget(settings.max_inflight_bytes),
        )

    async def ingest(
        self, project_id: str, body: bytes, content_type: str, encoding: str = "identity"
    ) -> ColumnBatch:
        """Decode, normalise and store one export body (compressed as ``encoding``
        says); returns its batch once it is committed."""
        with self.batcher.arriving():
            batch = await self.decoder.decode(body, content_type, project_id, encoding)
            if not batch.count:
                return batch
            committed = self.batcher.enqueue(batch)
        await committed
        return batch
