"""The trace view's waterfall: a time axis at round values, and each span's tokens and
cost beside its name in the tree."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from tests.support import otlp
from tests.web.conftest import Seeded


def test_waterfall_ticks_are_round_and_spans_show_tokens_and_cost(page: Page, web: Seeded) -> None:
    trace = otlp.new_trace_id()
    start = time.time_ns() - 10 * 1_000_000_000
    root = otlp.span(trace, "agent_step", start_ns=start, duration_ms=1234)
    llm = otlp.span(
        trace,
        "openai.chat",
        parent=root.span_id,
        start_ns=start + 100 * otlp.MS,
        duration_ms=900,
        attributes={
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 200,
        },
    )
    tool = otlp.span(trace, "lookup", parent=root.span_id, start_ns=start + 1000 * otlp.MS)
    sent = otlp.post(web.url, web.server.api_key, otlp.export([root, llm, tool]))
    assert sent.status_code == 200, sent.text

    page.goto(f"{web.url}/p/default/traces/{trace.hex()}")
    ticks = page.locator(".span-grid-head .tick")
    expect(ticks).to_have_text(["0", "250 ms", "500 ms", "750 ms", "1.0 s"])
    tree = page.get_by_role("tree")
    # 1,000 + 200 tokens; gpt-4o-mini: 1000 x $0.15 + 200 x $0.60 per million = $0.00027
    usage = tree.get_by_role("treeitem", name="openai.chat").locator(".span-usage")
    expect(usage).to_have_text("1.2k tok · $0.0003")
    expect(usage).to_have_attribute("title", "1,000 input + 200 output tokens")
    expect(tree.get_by_role("treeitem", name="lookup").locator(".span-usage")).to_have_count(0)
