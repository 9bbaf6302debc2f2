"""What an application installs: the wheel `python -m build` makes is the SDK alone.

It is built from a copy of the repository (with the C decoder that setup.sh built in
place, which must stay out of it), installed into a fresh virtualenv with pip (from the
package indexes pip's configuration names, at the versions constraints.txt pins), and
the README's Python example runs there against a real `lamina serve` of the dev venv.
And a server installed without its C decoder still stores what it is sent.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from lamina.web.pages.settings import snippets
from tests.conftest import LaminaServer

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "constraints.txt"

#: What the SDK may add to a virtualenv. OpenTelemetry's SDK and OTLP/HTTP exporter with
#: their dependencies are about 13 MB; the server's packages were 359 MB.
MAX_SDK_BYTES = 20 * 1024 * 1024
#: Packages only the server imports: none of them may come with the SDK.
SERVER_MODULES = ("duckdb", "pyarrow", "grpc", "clickhouse_connect", "starlette", "click")


def _run(*args: str | Path, timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


def _size(directory: Path) -> int:
    """The disk space the files under ``directory`` take, as `du` counts it."""
    return sum(p.lstat().st_blocks * 512 for p in directory.rglob("*"))


def _readme_python_example() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Send traces from Python", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks and "from lamina import" in blocks[0]
    return blocks[0]


def test_every_install_line_shown_works_before_the_sdk_is_published() -> None:
    # `pip install lamina` finds nothing on a package index yet: the README, docs/sdk.md
    # and the snippets of the Settings and empty-project pages say where it comes from.
    shown = {
        "README.md": (REPO / "README.md").read_text(),
        "docs/sdk.md": (REPO / "docs" / "sdk.md").read_text(),
        "the pages' snippets": "\n".join(snippets("http://127.0.0.1:5667", "lmn_x").values()),
    }
    for where, text in shown.items():
        commands = re.findall(r"^[#\s]*(pip install .*)$", text, re.M)
        assert any("/path/to/lamina" in c for c in commands), where
        for command in commands:
            assert not re.match(r"pip install '?lamina\b", command), (where, command)
    assert "-py3-none-any.whl" in shown["the pages' snippets"]


class App:
    """A fresh virtualenv with the SDK's wheel installed, as an application has it."""

    def __init__(self, root: Path, wheel: Path, added_bytes: int) -> None:
        self.root = root
        self.wheel = wheel
        self.added_bytes = added_bytes
        self.python = root / "bin" / "python"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> App:
    started = time.monotonic()
    source = tmp_path_factory.mktemp("checkout")
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(
        REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    assert list((source / "src/lamina/otlp").glob("_wire*.so")), "setup.sh builds it in place"
    dist = tmp_path_factory.mktemp("dist")
    environment = {k: v for k, v in os.environ.items() if k != "LAMINA_BUILD_DECODER"}
    # The build's own environment gets the setuptools constraints.txt pins, too.
    environment["PIP_CONSTRAINT"] = str(CONSTRAINTS)
    _run(sys.executable, "-m", "build", "--outdir", dist, source, timeout=120, env=environment)
    (wheel,) = dist.glob("*.whl")

    root = tmp_path_factory.mktemp("app") / "venv"
    _run(sys.executable, "-m", "venv", root, timeout=60)
    before = _size(root)
    _run(
        root / "bin" / "python",
        *("-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
        *(wheel, "-c", CONSTRAINTS),
        timeout=180,
    )
    installed = App(root, wheel, _size(root) - before)
    print(
        f"\nSDK wheel built and installed in {time.monotonic() - started:.1f} s; "
        f"it added {installed.added_bytes / 2**20:.1f} MB to the virtualenv"
    )
    return installed


def test_the_wheel_is_pure_python_without_the_c_decoder(app: App) -> None:
    assert app.wheel.name == "lamina-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(app.wheel) as wheel:
        names = wheel.namelist()
    assert not [n for n in names if n.endswith((".so", ".c", ".pyd"))]
    # the server's code is in it (`lamina serve` says what to add to run it)
    assert "lamina/serve/server.py" in names and "lamina/web/templates/base.html" in names


def test_the_sdk_adds_under_20_mb_and_none_of_the_server_packages(app: App) -> None:
    assert app.added_bytes < MAX_SDK_BYTES, f"{app.added_bytes / 2**20:.1f} MB"
    for module in SERVER_MODULES:
        probe = subprocess.run(
            [app.python, "-c", f"import {module}"], capture_output=True, text=True, timeout=60
        )
        assert probe.returncode != 0, f"{module} came with the SDK"
        assert f"No module named '{module}'" in probe.stderr
    _run(app.python, "-c", "from lamina import Laminar, observe", timeout=60)


def test_an_instrumentation_not_installed_says_what_to_install(app: App) -> None:
    probe = subprocess.run(
        [app.python, "-c", _INSTRUMENT_OPENAI], capture_output=True, text=True, timeout=60
    )
    assert probe.returncode == 0, probe.stderr
    assert "pip install opentelemetry-instrumentation-openai openai" in probe.stdout


_INSTRUMENT_OPENAI = """
from lamina import LaminaConfigError, Laminar
try:
    Laminar.initialize(project_api_key="lmn_x", instrument_modules=["openai"])
except LaminaConfigError as error:
    print(error)
"""


def test_the_server_commands_say_in_one_line_how_to_install_the_server(app: App) -> None:
    for args in (("serve",), ("keys", "list")):
        result = subprocess.run(
            [app.root / "bin" / "lamina", *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert "pip install 'lamina[server]'" in line and "pip install '.[server]'" in line
        assert "duckdb" in line


def test_the_readme_example_sends_its_traces_to_a_running_server(
    app: App, new_server: Callable[..., LaminaServer], tmp_path: Path
) -> None:
    server = new_server()
    script = tmp_path / "example.py"
    script.write_text(_readme_python_example().replace("lmn_...", server.api_key))
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("LAMINA_", "OTEL_"))}
    environment["LAMINA_BASE_URL"] = server.url
    result = _run(app.python, script, timeout=60, env=environment, cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr

    # Sent at exit, and acknowledged only once stored: readable as soon as it exited.
    conversation = server.api("/api/v1/sessions/conv-42")
    assert conversation["trace_count"] == 1
    assert conversation["traces"][0]["name"] == "handle_turn"
    checkout = server.api("/api/v1/sessions/checkout-42")
    assert [t["name"] for t in checkout["traces"]] == ["validate_cart", "process_payment"]
    assert checkout["user_ids"] == ["u-7"]


_NO_DECODER = """
import sys


class NoDecoder:
    def find_spec(self, name, path=None, target=None):
        if name == "lamina.otlp._wire":
            raise ImportError("not built (tests/sdk/test_install.py)")
        return None


sys.meta_path.insert(0, NoDecoder())
"""


def test_a_server_without_its_c_decoder_stores_spans_and_says_so(tmp_path: Path) -> None:
    # As `pip install '.[server]'` without LAMINA_BUILD_DECODER=1 leaves it: the module
    # is not there, in the server or in its decode workers.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(_NO_DECODER)
    environment = {**os.environ, "PYTHONPATH": str(hide)}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "lamina", "serve", "--data-dir", tmp_path / "data"),
            *("--port", "0", "--grpc-port", "0", "--decode-workers", "1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        output: list[str] = []
        deadline = time.monotonic() + 30
        while not any(line.startswith("Data directory:") for line in output):
            line = process.stdout.readline()
            assert line and time.monotonic() < deadline, "".join(output)
            output.append(line)
        text = "".join(output)
        assert "the OTLP decoder in C is not built" in text
        assert "LAMINA_BUILD_DECODER=1 pip install '.[server]'" in text
        url = re.search(r"Lamina is running: (\S+)", text)
        key = re.search(r"API key: (lmn_\S+)", text)
        assert url and key

        # A real OpenTelemetry client, over OTLP/HTTP protobuf.
        provider = TracerProvider()
        exporter = OTLPSpanExporter(
            endpoint=f"{url[1]}/v1/traces", headers={"Authorization": f"Bearer {key[1]}"}
        )
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("no-decoder")
        with tracer.start_as_current_span("turn", attributes={"session.id": "no-decoder"}):
            for _ in range(2):
                with tracer.start_as_current_span("step"):
                    pass
        provider.shutdown()
        headers = {"Authorization": f"Bearer {key[1]}"}
        stored = httpx.get(f"{url[1]}/api/v1/sessions/no-decoder", headers=headers, timeout=30)
        assert stored.status_code == 200, stored.text
        assert stored.json()["span_count"] == 3
    finally:
        process.terminate()
        process.communicate(timeout=30)
