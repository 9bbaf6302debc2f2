"""``lamina.evaluate`` (#22) with outputs near the server's limits: an output of 400,000
three-byte characters (1.2 MB of JSON; the server takes 1 MiB a value) is kept cut short,
saying so, rather than refused; and 56 outputs of 199,000 such characters (33 MB, more
than the 32 MiB one request may hold) go in several requests, every item kept. And
evaluate called from async code (an event loop already running) runs all the same."""

from __future__ import annotations

import asyncio
from typing import Any

from lamina import evaluate
from tests.conftest import LaminaServer

EURO = "\u20ac"


def _shown(server: LaminaServer, experiment_id: str) -> dict[str, Any]:
    found: dict[str, Any] = server.api(f"/api/v1/experiments/{experiment_id}")["experiment"]
    return found


def test_an_output_over_the_servers_limit_is_kept_cut_short(laminar: LaminaServer) -> None:
    result = evaluate(
        [{"input": "long"}], lambda given: EURO * 400_000, {"n": lambda o, e, i: len(o)}
    )
    assert not result.failed and result.items[0].scores == {"n": 400_000.0}
    (item,) = _shown(laminar, result.experiment_id)["items"]
    assert item["output"].startswith(EURO * 200_000) and "truncated by lamina" in item["output"]
    assert item["scores"] == {"n": 400_000.0}


def test_items_over_one_requests_limit_go_in_several(laminar: LaminaServer) -> None:
    data = [{"input": n} for n in range(56)]
    result = evaluate(data, lambda given: EURO * 199_000 + str(given), {}, concurrency=8)
    shown = _shown(laminar, result.experiment_id)
    assert [item["output"][-2:].lstrip(EURO) for item in shown["items"]] == [
        str(n) for n in range(56)
    ]


def test_evaluate_called_from_async_code_runs_on_a_thread_of_its_own(
    laminar: LaminaServer,
) -> None:
    # a notebook's cell, or an async test, already runs an event loop
    async def caller() -> Any:
        async def app(given: int) -> int:
            await asyncio.sleep(0)
            return given * 2

        return evaluate([{"input": 1}, {"input": 2}], app, {"big": lambda o, e, i: o > 2})

    result = asyncio.run(caller())
    assert [item.output for item in result.items] == [2, 4]
    assert [item.scores for item in result.items] == [{"big": 0.0}, {"big": 1.0}]
    assert [item["output"] for item in _shown(laminar, result.experiment_id)["items"]] == [2, 4]
