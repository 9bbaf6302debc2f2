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


_APP = """
import { Laminar, observe } from "lamina-js";
Laminar.initialize();
await observe({ name: "packed", sessionId: process.env.SESSION_ID }, async () => "ok");
await Laminar.shutdown();
"""


def test_the_npm_package_installs_into_an_empty_project_with_only_opentelemetry(
    sdk_js: Path, server: LaminaServer, tmp_path: Path
) -> None:
    # What `npm pack` makes (its prepack builds; the fixture built already) installed as an
    # application would: into a project of its own, from the registry npm is set up with.
    packed = subprocess.run(
        ["npm", "pack", "--ignore-scripts", "--pack-destination", str(tmp_path), "--silent"],
        cwd=sdk_js,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert packed.returncode == 0, packed.stderr
    tarball = tmp_path / packed.stdout.strip().splitlines()[-1]
    project = tmp_path / "app"
    project.mkdir()
    (project / "package.json").write_text('{"name": "app", "private": true}')
    installed = subprocess.run(
        ["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", str(tarball)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert installed.returncode == 0, installed.stderr

    manifest = json.loads((project / "node_modules/lamina-js/package.json").read_text())
    assert manifest["dependencies"], "lamina-js has dependencies"
    for name in manifest["dependencies"]:
        assert name.startswith(("@opentelemetry/", "@traceloop/instrumentation-")), name
    lock = json.loads((project / "package-lock.json").read_text())
    packages = {path.rsplit("node_modules/", 1)[-1] for path in lock["packages"] if path}
    assert not packages & set(manifest["devDependencies"]), "a build or test tool came along"

    session_id = f"packed-{uuid.uuid4().hex[:10]}"
    run = subprocess.run(
        ["node", "--input-type=module", "-e", _APP],
        cwd=project,
        env={
            **os.environ,
            "LAMINA_BASE_URL": server.url,
            "LAMINA_PROJECT_API_KEY": server.api_key,
            "SESSION_ID": session_id,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    (packed_trace,) = server.api(f"/api/v1/sessions/{session_id}")["traces"]
    assert packed_trace["name"] == "packed"
