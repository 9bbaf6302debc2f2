"""What a running server holds: settings, store, writer, keys, prices.

One object, passed to the HTTP app and the gRPC servicer, instead of a
factory with many arguments. Both receivers ingest through :meth:`ingest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from lamina.auth import KeyResolver
from lamina.ingest.batcher import IngestBatcher
from lamina.ingest.budget import ByteBudget
from lamina.otlp.decode import DecodedBatch, decode_request
from lamina.pricing import PriceTable
from lamina.settings import Settings
from lamina.store.base import Store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    batcher: IngestBatcher
    keys: KeyResolver
    prices: PriceTable
    bodies: ByteBudget
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, store: Store) -> Runtime:
        return cls(
            settings=settings,
            store=store,
            batcher=IngestBatcher(store, settings.max_queue_spans, settings.max_batch_spans),
            keys=KeyResolver(store),
            prices=PriceTable.load(settings.price_file),
            bodies=ByteBudget(settings.max_inflight_bytes),
        )

    async def ingest(self, project_id: str, request: ExportTraceServiceRequest) -> DecodedBatch:
        """Decode, normalise and store one export; returns once its spans are committed."""
        batch = decode_request(request, project_id, self.prices.cost)
        await self.batcher.submit(batch.records)
        return batch
