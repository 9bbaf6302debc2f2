"""The TypeScript SDK (sdk-js/): built from its sources, then its tests, with
Node's own test runner, against the shared real server. Each test file of
sdk-js/test/ is one test here (they are also runnable alone: ``npm test`` in
sdk-js/ starts a server of its own); and a Python service calling a Node one
shares its trace and session with it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from lamina import Laminar
from tests.compat.conftest import SDK_JS
from tests.conftest import LaminaServer

TEST_FILES = sorted(
    path.name
    for pattern in ("*.test.mjs", "*.test.cjs")
    for path in (SDK_JS / "test").glob(pattern)
)


def test_the_test_files_are_found() -> None:
    assert {"seed-examples.test.mjs", "commonjs.test.cjs"} <= set(TEST_FILES)


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_sdk_js(sdk_js: Path, server: LaminaServer, test_file: str) -> None:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LAMINA_", "OTEL_"))},
        "LAMINA_TEST_BASE_URL": server.url,
        "LAMINA_TEST_API_KEY": server.api_key,
    }
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", f"test/{test_file}"],
        cwd=sdk_js,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = f"{run.stdout}\n{run.stderr}"
    assert run.returncode == 0, report
    passed = re.search(r"^ℹ pass (\d+)$", run.stdout, re.MULTILINE)
    failed = re.search(r"^ℹ fail (\d+)$", run.stdout, re.MULTILINE)
    assert passed and failed, report
    assert int(passed.group(1)) > 0 and int(failed.group(1)) == 0, report


_NODE_CALLEE = """
import { Laminar, observe } from "lamina-js";
Laminar.initialize();
await Laminar.continueTrace(JSON.parse(process.env.HEADERS), () =>
  observe({ name: "node.callee" }, async (x) => x * 2, 21),
);
await Laminar.shutdown();
"""


def test_a_python_caller_and_a_node_callee_share_the_trace_and_session(
    sdk_js: Path, server: LaminaServer
) -> None:
    session_id = f"py-to-node-{uuid.uuid4().hex[:10]}"
    Laminar.initialize(project_api_key=server.api_key, base_url=server.url, instrument_modules=[])
    try:
        with (
            Laminar.with_session(session_id, user_id="u-py"),
            Laminar.start_as_current_span("python.caller"),
        ):
            trace_id = Laminar.get_trace_id()
            headers = Laminar.get_trace_headers()
            callee = subprocess.run(
                ["node", "--input-type=module", "-e", _NODE_CALLEE],
                cwd=sdk_js,
                env={
                    **os.environ,
                    "HEADERS": json.dumps(headers),
                    "LAMINA_BASE_URL": server.url,
                    "LAMINA_PROJECT_API_KEY": server.api_key,
                },
                capture_output=True,
                text=True,
                timeout=60,
            )
        assert callee.returncode == 0, callee.stderr
        assert Laminar.flush(10)
    finally:
        Laminar.shutdown()

    detail = server.api(f"/api/v1/traces/{trace_id}")
    spans = {span["name"]: span for span in detail["spans"]}
    assert spans["node.callee"]["parent_span_id"] == spans["python.caller"]["span_id"]
    assert spans["node.callee"]["session_id"] == session_id
    assert spans["node.callee"]["user_id"] == "u-py"
    assert spans["node.callee"]["output"] == "42"
