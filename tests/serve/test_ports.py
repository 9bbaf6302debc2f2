"""Two servers on one machine: a port another server holds is refused, the gRPC port as
clearly as the HTTP port (the kernel would otherwise share a gRPC port bound with
SO_REUSEPORT and split the exports between the two servers); and a start refused for
a busy port makes no first key, so the next start that succeeds shows one."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.conftest import LAMINA, LaminaServer
from tests.support import otlp
from tests.support.otlp import IN_PROCESS


def refused(data_dir: Path, *args: str) -> str:
    """Run `lamina serve` that must exit at once with the settings error code (2); its
    output. A server that starts instead is stopped and the test fails."""
    process = subprocess.Popen(
        [LAMINA, "serve", "--data-dir", str(data_dir), *IN_PROCESS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError("the server started instead of refusing:\n" + output) from None
    assert process.returncode == 2, output
    assert "Lamina is running" not in output
    return " ".join(output.split())


def test_a_grpc_port_held_by_another_server_is_refused(
    new_server: Callable[..., LaminaServer], tmp_path: Path
) -> None:
    first = new_server(*IN_PROCESS)
    grpc_port = first.grpc_target.rsplit(":", 1)[1]

    message = refused(tmp_path / "second", "--port", "0", "--grpc-port", grpc_port)
    assert (
        f"Cannot listen for OTLP/gRPC on 127.0.0.1:{grpc_port} (Address already in use). "
        "Is another server running? Choose another port with --grpc-port, or -1 to turn "
        "gRPC off."
    ) in message


def test_a_start_refused_for_a_busy_port_leaves_the_first_key_to_the_next(
    new_server: Callable[..., LaminaServer], tmp_path: Path
) -> None:
    other = new_server(*IN_PROCESS)
    http_port = other.url.rsplit(":", 1)[1]
    grpc_port = other.grpc_target.rsplit(":", 1)[1]
    data_dir = tmp_path / "new"

    message = refused(data_dir, "--port", http_port, "--grpc-port", "0")
    assert f"Cannot listen on 127.0.0.1:{http_port} (Address already in use)" in message
    assert "API key" not in message
    message = refused(data_dir, "--port", "0", "--grpc-port", grpc_port)
    assert "Cannot listen for OTLP/gRPC" in message
    assert "API key" not in message

    server = new_server(*IN_PROCESS, data_dir=data_dir)
    assert server.api_key, "".join(server.output)  # shown by the first start that listened
    assert otlp.api(server, "/api/v1/sessions")["items"] == []


def test_a_cli_command_on_a_new_data_dir_shows_the_key_it_makes(
    new_server: Callable[..., LaminaServer], tmp_path: Path
) -> None:
    """A command run on a data dir no server has used yet makes the default project and
    its first key; it must show the key (the server's later start will not)."""
    data_dir = tmp_path / "new"
    done = subprocess.run(
        [LAMINA, "projects", "list", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "API key" in line]
    key = line.split("API key: ")[1].split()[0]
    server = new_server(*IN_PROCESS, data_dir=data_dir, api_key=key)
    assert otlp.api(server, "/api/v1/sessions")["items"] == []
