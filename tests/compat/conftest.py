"""Fixtures for the compatibility tests: the real client libraries of other SDKs,
each in an application of its own (apps/*.py) run in a subprocess, sending to the
shared real server (``server`` from tests/conftest.py); the tests read back what
landed through the JSON API.

A subprocess per application, because these libraries install global tracer
providers and patch ``openai`` globally: run in the pytest process they would
trace each other's calls and the Lamina SDK's tests.

``compat_python``  the Python of .venv-compat, where lmnr and traceloop-sdk live
                   (see requirements-compat.txt for why not .venv); scripts/setup.sh
                   builds it, and this fixture runs setup.sh when it is missing.
``fake_llm``       the fake OpenAI/Anthropic endpoint (tests/fakes/llm.py).
``apps``           the applications of the collected test modules, all started at
                   once (they are slow to import; two cores run two at a time):
                   ``apps["lmnr-grpc"].result()`` -> :class:`AppRun`.
``sdk_js``         sdk-js/, its packages installed and built (test_sdk_js.py).

The applications and the sdk-js build start with the first compat test, so
that they run while the tests before theirs do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lamina.pricing import PriceTable
from tests.conftest import LaminaServer
from tests.fakes.llm import FakeLLM

COMPAT = Path(__file__).parent
REPO = COMPAT.parents[1]
APPS = COMPAT / "apps"
COMPAT_VENV = REPO / ".venv-compat"
SDK_JS = REPO / "sdk-js"

#: What must not appear in an application's stderr: a failed export of spans,
#: logs or metrics, or an exception, means the client does not work with Lamina.
ERROR_MARKERS = ("Traceback", "Failed to export", "Exception", "ERROR", "Error:")

#: Variables of the developer's environment that would change where the clients send.
_CLIENT_PREFIXES = ("OTEL_", "LMNR_", "TRACELOOP_", "LAMINA_", "OPENAI_", "ANTHROPIC_")


@dataclass(frozen=True)
class AppRun:
    output: dict[str, Any]
    stderr: str
    seconds: float


@pytest.fixture(scope="session")
def compat_python() -> Path:
    python = COMPAT_VENV / "bin" / "python"
    stamp = COMPAT_VENV / ".installed"
    requirements = COMPAT / "requirements-compat.txt"
    if not stamp.exists() or stamp.stat().st_mtime < requirements.stat().st_mtime:
        subprocess.run(["bash", str(REPO / "scripts" / "setup.sh"), "--test"], cwd=REPO, check=True)
    return python


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


class Launched:
    """An application started in a subprocess; :meth:`result` waits for it."""

    def __init__(self, script: str, process: subprocess.Popen[str], run: str) -> None:
        self.script = script
        self.process = process
        self.run = run
        self.started = time.monotonic()
        self._result: AppRun | None = None

    def result(self) -> AppRun:
        if self._result is None:
            try:
                stdout, stderr = self.process.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                stdout, stderr = self.process.communicate()
                pytest.fail(f"{self.script} did not finish in 120 s:\n{stdout}\n{stderr}")
            seconds = time.monotonic() - self.started
            report = f"{self.script} exited {self.process.returncode}:\n{stdout}\n{stderr}"
            assert self.process.returncode == 0, report
            lines = [line for line in stdout.splitlines() if line.startswith("{")]
            assert lines, f"{self.script} printed no result:\n{stdout}\n{stderr}"
            self._result = AppRun(json.loads(lines[-1]), stderr, seconds)
        return self._result


#: The applications each test module reads back: name -> (venv, script, environment).
#: They are all started at once, as soon as the first of them is needed.
APPS_OF_MODULES: dict[str, dict[str, tuple[str, str, dict[str, str]]]] = {
    "test_lmnr": {
        "lmnr-grpc": ("compat", "lmnr_app.py", {"TRANSPORT": "grpc"}),
        "lmnr-http": ("compat", "lmnr_app.py", {"TRANSPORT": "http"}),
    },
    "test_openllmetry": {
        "openllmetry": ("compat", "openllmetry_app.py", {"TRACELOOP_METRICS_ENABLED": "false"}),
    },
    "test_openinference": {
        "openinference": ("main", "openinference_app.py", {}),
    },
}


@pytest.fixture(scope="session")
def apps(
    request: pytest.FixtureRequest, server: LaminaServer, fake_llm: FakeLLM
) -> Iterator[dict[str, Launched]]:
    """The applications of the collected compat test modules, started in parallel,
    each pointed at the shared server and the fake LLM, with a unique ``RUN``."""
    modules = {item.path.stem for item in request.session.items}
    wanted = {
        name: spec
        for module, specs in APPS_OF_MODULES.items()
        if module in modules
        for name, spec in specs.items()
    }
    pythons = {"main": sys.executable}
    if any(venv == "compat" for venv, _, _ in wanted.values()):
        pythons["compat"] = str(request.getfixturevalue("compat_python"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(_CLIENT_PREFIXES)}
    launched: dict[str, Launched] = {}
    for name, (venv, script, env) in wanted.items():
        run = new_run()
        environment = {
            **base,
            "PYTHONUNBUFFERED": "1",
            "LAMINA_URL": server.url,
            "LAMINA_GRPC_PORT": server.grpc_target.rsplit(":", 1)[1],
            "LAMINA_KEY": server.api_key,
            "OPENAI_BASE_URL": fake_llm.openai_base_url,
            "RUN": run,
            **env,
        }
        process = subprocess.Popen(
            [pythons[venv], str(APPS / script)],
            env=environment,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        launched[name] = Launched(script, process, run)
    yield launched
    for app in launched.values():  # every pipe closed, read or not (no ResourceWarning)
        if app.process.poll() is None:
            app.process.kill()
        app.process.communicate()


def new_run() -> str:
    """A unique suffix for the ids an application run uses."""
    return uuid.uuid4().hex[:10]


def expected_cost(model: str, input_tokens: int, output_tokens: int) -> float:
    cost = PriceTable.load().cost(model, None, input_tokens, output_tokens)
    assert cost is not None
    return cost


def assert_clean(stderr: str) -> None:
    """Nothing in the application's stderr says an export (or anything) failed."""
    bad = [line for line in stderr.splitlines() if any(m in line for m in ERROR_MARKERS)]
    assert not bad, "\n".join(bad)


def spans_by_name(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {span["name"]: span for span in detail["spans"]}


@pytest.fixture(scope="session")
def sdk_js_build() -> Iterator[subprocess.Popen[str]]:
    """The build of sdk-js (tsc: ES modules, CommonJS, types), started in the background."""
    if not (SDK_JS / "node_modules" / ".package-lock.json").exists():
        subprocess.run(["bash", str(REPO / "scripts" / "setup.sh"), "--test"], cwd=REPO, check=True)
    build = subprocess.Popen(
        ["npm", "run", "--silent", "build"],
        cwd=SDK_JS,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield build
    if build.poll() is None:
        build.kill()
    build.communicate()  # its pipe closed, read or not (no ResourceWarning)


@pytest.fixture(scope="session")
def sdk_js(sdk_js_build: subprocess.Popen[str]) -> Path:
    """sdk-js/, with its packages installed (scripts/setup.sh) and built."""
    output, _ = sdk_js_build.communicate(timeout=300)
    assert sdk_js_build.returncode == 0, f"sdk-js does not build:\n{output}"
    return SDK_JS


@pytest.fixture(scope="session", autouse=True)
def _start_slow_work_early(request: pytest.FixtureRequest) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # every worker collects every module:
        return  # the one that runs them starts them, when first needed
    modules = {item.path.stem for item in request.session.items}
    if "test_sdk_js" in modules:
        request.getfixturevalue("sdk_js_build")
    if modules & APPS_OF_MODULES.keys():
        request.getfixturevalue("apps")
