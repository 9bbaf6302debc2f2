"""The CLI's client of a running server (lamina.cli.client): ``lamina export`` reads the
JSON API's download, pages it again, and refuses one cut short."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from lamina.cli.client import _pages
from lamina.errors import LaminaError
from tests.conftest import LaminaServer
from tests.support import otlp


def _lines(*items: dict[str, object]) -> list[bytes]:
    return [orjson.dumps(item) for item in items]


def test_a_download_is_paged_by_kind_every_kind_in_order() -> None:
    lines = _lines(
        {"lamina_export": 1},
        {"kind": "span", "span_id": "a"},
        {"kind": "span", "span_id": "b"},
        {"kind": "trailer", "sessions": 0, "traces": 0, "spans": 2},
    )
    pages = list(_pages(iter(lines)))
    assert [kind for kind, _ in pages] == [
        "sessions", "traces", "spans", "scores", "comments", "datasets", "dataset_items",
        "experiments", "experiment_items",
    ]  # fmt: skip
    assert [len(items) for _, items in pages] == [0, 0, 2, 0, 0, 0, 0, 0, 0]


def test_a_download_cut_short_or_miscounted_is_an_error() -> None:
    cut = _lines({"lamina_export": 1}, {"kind": "session"}, {"kind": "trace"})
    miscounted = [*cut, *_lines({"kind": "trailer", "sessions": 1, "traces": 2, "spans": 0})]
    for lines in (cut, miscounted):
        with pytest.raises(LaminaError, match="cut short"):
            list(_pages(iter(lines)))


def test_a_parquet_export_of_spans_without_sessions_has_all_four_files(
    server: LaminaServer, tmp_path: Path
) -> None:
    name, key = otlp.new_project(server, "no-sessions")
    spans = [otlp.span(otlp.new_trace_id(), f"lonely-{n}") for n in range(3)]
    assert otlp.post(server.url, key, otlp.export(spans)).status_code == 200
    target = tmp_path / "out"
    done = server.cli("export", "--project", name, "--format", "parquet", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert "Exported 0 sessions, 3 traces and 3 spans" in done.stderr
    rows = {
        kind: pq.read_table(target / f"{kind}.parquet").num_rows
        for kind in ("sessions", "traces", "spans", "scores")
    }
    assert rows == {"sessions": 0, "traces": 3, "spans": 3, "scores": 0}
