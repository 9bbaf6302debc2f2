"""Exports and imports of large spans finish, within the store's memory.

The report: 2,000 spans of 150 KB (300 MB, accepted over OTLP) at the default 256 MB of
store memory; the JSONL export was cut before its first span, the Parquet download was
a 503, ``lamina export`` failed, and ``lamina import`` of the file ran the store out of
memory. These tests keep its proportions at a quarter of the size, so they stay quick:
2,000 spans of 40 KB (80 MB) into a store given 64 MB. Pages of an export and chunks
of an import are bounded by bytes, so both finish, and the JSONL ends with its trailer.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from lamina.exchange.importing import IMPORT_CHUNK_BYTES, read_spans
from tests.conftest import LaminaServer, start_server
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

SPANS = 2000
TEXT = 40_000  # characters of input per span
PER_REQUEST = 250  # 10 MB: under the 16 MB body limit


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LaminaServer, str, str]]:
    server = start_server(tmp_path_factory.mktemp("large"), *IN_PROCESS, "--store-memory-mb", "64")
    name, key = otlp.new_project(server, "large")
    for first in range(0, SPANS, PER_REQUEST):
        spans = [
            otlp.span(
                otlp.new_trace_id(),
                f"large-{n}",
                attributes={
                    "session.id": f"s-{n // 100}",
                    "input.value": os.urandom(TEXT // 2).hex(),
                },
            )
            for n in range(first, first + PER_REQUEST)
        ]
        response = otlp.post(server.url, key, otlp.export(spans))
        assert response.status_code == 200, response.text
    yield server, name, key
    server.stop()


def test_the_api_exports_large_spans_whole(
    large: tuple[LaminaServer, str, str], tmp_path: Path
) -> None:
    server, _, key = large
    target = tmp_path / "api.jsonl"
    with otlp.client().stream(
        "GET", server.url + "/api/v1/export", headers={"Authorization": f"Bearer {key}"}
    ) as response:
        assert response.status_code == 200
        with target.open("wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
    kinds: dict[str, int] = {}
    with target.open("rb") as lines:
        for raw in lines:
            kind = orjson.loads(raw).get("kind", "header")
            kinds[kind] = kinds.get(kind, 0) + 1
            last = raw
    assert kinds == {"header": 1, "session": 20, "trace": SPANS, "span": SPANS, "trailer": 1}
    assert orjson.loads(last) == {
        "kind": "trailer",
        "sessions": 20,
        "traces": SPANS,
        "spans": SPANS,
        "scores": 0,
        "comments": 0,
        "datasets": 0,
        "dataset_items": 0,
        "experiments": 0,
        "experiment_items": 0,
    }

    zipped = otlp.get(server, "/api/v1/export", key=key, format="parquet")
    assert zipped.status_code == 200, zipped.text
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        spans = pq.read_table(io.BytesIO(archive.read("spans.parquet")), columns=["input"])
    assert spans.num_rows == SPANS
    assert {len(text) for text in spans.column("input").to_pylist()} == {TEXT}


def test_the_cli_exports_large_spans_whole(
    large: tuple[LaminaServer, str, str], tmp_path: Path
) -> None:
    server, name, _ = large
    target = tmp_path / "cli.jsonl"
    done = server.cli("export", "--project", name, "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert f"Exported 20 sessions, {SPANS} traces and {SPANS} spans" in done.stderr
    with target.open("rb") as lines:
        count = sum(1 for _ in lines)
    assert count == 1 + 20 + SPANS + SPANS + 1
    assert orjson.loads(target.read_bytes().rsplit(b"\n", 2)[-2])["spans"] == SPANS


def test_an_import_of_large_spans_goes_in_chunks_bounded_by_bytes(
    new_server: Callable[..., LaminaServer], tmp_path: Path
) -> None:
    """``lamina import`` of 2,000 spans of 40 KB (a file written here, so that only the
    import is tried) sends them in chunks of at most about 8 MB. Sent in one request,
    they took the server's memory up by 521 MiB (store at 64 MB); in chunks, 231."""
    source = tmp_path / "by-hand.jsonl"
    with source.open("wb") as out:
        out.write(orjson.dumps({"lamina_export": 1, "project": "by-hand"}) + b"\n")
        for n in range(SPANS):
            span = {
                "kind": "span",
                "trace_id": os.urandom(16).hex(),
                "span_id": os.urandom(8).hex(),
                "name": f"by-hand-{n}",
                "start_ns": 1_767_225_600_000_000_000 + n,
                "end_ns": 1_767_225_600_000_000_000 + n + 1000,
                "session_id": f"s-{n // 100}",
                "input": os.urandom(TEXT // 2).hex(),
            }
            out.write(orjson.dumps(span) + b"\n")
        trailer = {"kind": "trailer", "sessions": 0, "traces": 0, "spans": SPANS}
        out.write(orjson.dumps(trailer) + b"\n")
    chunks = [sum(len(orjson.dumps(span)) for span in chunk) for chunk in read_spans(source)]
    assert len(chunks) >= 10 and max(chunks) <= IMPORT_CHUNK_BYTES + 2 * TEXT

    server = new_server(*IN_PROCESS, "--store-memory-mb", "64")
    status = Path(f"/proc/{server.process.pid}/status")
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")  # resets VmHWM
    before = _kib(status, "VmRSS")
    done = server.cli("import", str(source), "--project", "by-hand")
    assert done.returncode == 0, done.stderr
    assert f'Imported {SPANS} spans into project "by-hand"' in done.stdout
    grown = (_kib(status, "VmHWM") - before) // 1024
    assert grown < 400, f"the server's memory grew by {grown} MiB during the import"
    assert otlp.admin(server, "get_project", project="by-hand")["span_count"] == SPANS
    # through the ingest batcher, as OTLP spans (an import once wrote to the store directly)
    assert otlp.api(server, "/healthz")["spans_written"] == SPANS


def _kib(status: Path, field: str) -> int:
    line = next(line for line in status.read_text().splitlines() if line.startswith(field))
    return int(line.split()[1])
