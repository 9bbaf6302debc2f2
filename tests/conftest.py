"""Real fixtures: a real `lamina serve` process on ephemeral ports with a real data dir.

Fixtures
--------
``server``        session-scoped running server (shared; use unique session/trace ids).
``new_server``    factory: ``new_server(*extra_args, data_dir=None)`` starts a fresh
                  server (its own data dir unless given), stopped at the end of the test.
``store_kind``    the store they run on: "duckdb" (but see "Both stores" below).
``LaminaServer``  has ``.url``, ``.grpc_target`` ("127.0.0.1:PORT"), ``.api_key``,
                  ``.data_dir``, ``.get(path, key=..., **params)`` -> httpx.Response,
                  ``.api(path, **params)`` -> parsed JSON (asserts 200),
                  ``.wait_for(path, predicate, **params)`` polls the API until the predicate
                  holds (AssertionError after ``timeout`` s),
                  ``.cli(*args)`` runs the `lamina` command on the data dir,
                  ``.stop()`` (SIGTERM, waits) and ``.kill()`` (SIGKILL).

Both stores
-----------
A module marked ``pytestmark = pytest.mark.both_stores`` runs each test that uses
``server`` or ``new_server`` twice, ``[duckdb]`` and ``[clickhouse]``: against the DuckDB
store and against the ClickHouse store (its SQL on chDB, in the server's process), each
with one shared server (``duckdb_server``, ``clickhouse_server``), and ``new_server``
starting servers on the same store; ``store_kind`` says which.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import otlp

LAMINA = str(Path(sys.executable).parent / "lamina")
_RUNNING = re.compile(r"Lamina is running: (\S+) .*OTLP/gRPC: (\S+)")
_KEY = re.compile(r"API key: (lmn_\S+)")


@dataclass
class LaminaServer:
    data_dir: Path
    process: subprocess.Popen[str]
    url: str = ""
    grpc_target: str = ""
    api_key: str = ""
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def get(self, path: str, key: str | None = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.api_key}"} if key != "" else {}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=30)

    def api(self, path: str, key: str | None = None, **params: Any) -> Any:
        response = self.get(path, key=key, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(
        self, path: str, predicate: Callable[[Any], bool], timeout: float = 10, **params: Any
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = self.api(path, **params)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} did not answer as expected in {timeout} s: {result}")
            time.sleep(0.05)

    def wait_for_output(self, text: str, timeout: float = 10) -> str:
        """The first line of the server's output holding ``text``, once it is printed."""
        deadline = time.monotonic() + timeout
        while not (lines := [line for line in self.output if text in line]):
            if time.monotonic() > deadline:
                raise AssertionError(f"the server never printed {text!r}:\n{''.join(self.output)}")
            time.sleep(0.05)
        return lines[0]

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, "--data-dir", str(self.data_dir), input=input)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)
        self._close()

    def _close(self) -> None:
        if self.reader is not None:
            self.reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def run_cli(
    *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAMINA, *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def start_server(
    data_dir: Path, *extra: str, api_key: str | None = None, timeout: float = 60
) -> LaminaServer:
    process = subprocess.Popen(
        [LAMINA, "serve", "--data-dir", str(data_dir), "--port", "0", "--grpc-port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    server = LaminaServer(data_dir=data_dir, process=process, api_key=api_key or "")
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            server.output.append(line)
            if match := _RUNNING.search(line):
                server.url, server.grpc_target = match.group(1), match.group(2)
            elif match := _KEY.search(line):
                server.api_key = server.api_key or match.group(1)
            elif line.startswith("Data directory:"):  # the banner's last line
                ready.set()

    server.reader = threading.Thread(target=read, daemon=True)
    server.reader.start()
    if not ready.wait(timeout) or not server.url:
        server.kill()  # waits for it and closes its pipe (no ResourceWarning after)
        raise RuntimeError("lamina serve did not start:\n" + "".join(server.output))
    return server


STORE_KINDS = ["duckdb", "clickhouse"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A ``both_stores`` module's tests that use a server run once on each store."""
    if metafunc.definition.get_closest_marker("both_stores") is None:
        return
    # new_server asks for store_kind; the session-scoped server is chosen by its param
    names = [name for name in ("server", "store_kind") if name in metafunc.fixturenames]
    if names:
        values = [[kind] * len(names) for kind in STORE_KINDS]
        metafunc.parametrize(names, values, indirect=True, ids=STORE_KINDS, scope="module")


@pytest.fixture(scope="module")
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = getattr(request, "param", "duckdb")
    return kind


@pytest.fixture(scope="session")
def duckdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    running = start_server(tmp_path_factory.mktemp("lamina-data"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    """The shared server on the ClickHouse store (chDB in its process)."""
    data_dir = tmp_path_factory.mktemp("lamina-clickhouse")
    running = start_server(data_dir, "--store", f"chdb://{data_dir}/chdb")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest) -> LaminaServer:
    """The shared server: on DuckDB, or on the store a ``both_stores`` test runs on
    (the parametrisation gives this fixture a param and the module's scope)."""
    kind = getattr(request, "param", "duckdb")
    found: LaminaServer = request.getfixturevalue(f"{kind}_server")
    return found


@pytest.fixture
def new_server(tmp_path: Path, store_kind: str) -> Iterator[Callable[..., LaminaServer]]:
    started: list[LaminaServer] = []

    def start(
        *extra: str, data_dir: Path | None = None, api_key: str | None = None
    ) -> LaminaServer:
        directory = data_dir or tmp_path / f"data-{len(started)}"
        if store_kind == "clickhouse":
            extra = (*extra, "--store", f"chdb://{directory}/chdb")
        running = start_server(directory, *extra, api_key=api_key)
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()


@pytest.fixture(scope="session", autouse=True)
def _shared_http_client() -> Iterator[None]:
    yield
    otlp.close_client()


_EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without running native destructors once chDB has been loaded in this process.

    chDB (the in-process ClickHouse engine of the store tests and the test ClickHouse
    HTTP server) can crash in its C++ global shutdown after every test has finished
    ("Exception in global_context->shutdown(): The ShutdownTablesThreadPool is not
    initialized", then SIGSEGV), which would turn a passing run into a failing one.
    Every report has been written by now; the run's own exit status is kept."""
    if "chdb" in sys.modules and _EXIT_STATUS in config.stash:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config.stash[_EXIT_STATUS])
