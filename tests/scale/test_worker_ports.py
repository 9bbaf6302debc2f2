"""`--workers N` shares its gRPC port among its own workers only: a second server on the
machine, itself with workers (whose sockets set SO_REUSEPORT too, so the kernel would
let it in), is refused the port, and every export still reaches the first."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.conftest import start_server
from tests.serve.test_ports import refused
from tests.support import otlp

FAST = ("--decode-workers", "0")


def test_a_second_workers_server_cannot_share_the_grpc_port(tmp_path: Path, store_url: str) -> None:
    first = start_server(tmp_path / "first", "--workers", "2", "--store", store_url, *FAST)
    try:
        grpc_port = first.grpc_target.rsplit(":", 1)[1]
        message = refused(
            tmp_path / "second",
            "--workers",
            "2",
            "--store",
            store_url,
            "--port",
            "0",
            "--grpc-port",
            grpc_port,
        )
        assert f"Cannot listen for OTLP/gRPC on 127.0.0.1:{grpc_port} (Address already in use)" in (
            message
        )

        # Exports on new connections are all the first server's (both its workers).
        spans = otlp.conversation_turn(otlp.uid("s-grpc"), 0, start_ns=time.time_ns())
        auth = [("authorization", f"Bearer {first.api_key}")]
        for _ in range(6):
            with grpc.insecure_channel(first.grpc_target) as channel:
                stub = trace_service_pb2_grpc.TraceServiceStub(channel)
                stub.Export(otlp.export(spans), metadata=auth, timeout=30)
    finally:
        first.kill()
