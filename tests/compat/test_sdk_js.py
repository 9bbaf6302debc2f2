"""The TypeScript SDK (sdk-js/): built from its sources, then its tests, with
Node's own test runner, against the shared real server. Each test file of
sdk-js/test/ is one test here (they are also runnable alone: ``npm test`` in
sdk-js/ starts a server of its own)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

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
