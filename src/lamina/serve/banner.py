"""What a server prints once both its ports listen: where to send spans and open the
pages, the first API key of a new data dir (shown once), where the data is.

One server prints it itself; with ``--workers N`` the supervisor prints it once for
all its workers.
"""

from __future__ import annotations

from typing import Any, TextIO

from lamina.settings import Settings
from lamina.store.clickhouse.client import parse_store


def server_url(host: str, port: int) -> str:
    """The address to open for a server listening on ``host:port``: a wildcard host
    (every interface) is reached on the loopback address."""
    if host in ("0.0.0.0", "::", ""):
        return f"http://127.0.0.1:{port}"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def print_banner(
    out: TextIO,
    settings: Settings,
    info: dict[str, Any],
    project: str,
    first_key: str | None,
    extra: list[str],
) -> None:
    """The start lines; ``info`` is the running-server record (lamina.serve.process),
    ``extra`` lines go after the key (a first sign-in link, the workers)."""
    url = info["url"]
    grpc_text = f"{settings.host}:{info['grpc_port']}" if "grpc_port" in info else "off"
    lines = [f"Lamina is running: {url}   OTLP/HTTP: {url}/v1/traces   OTLP/gRPC: {grpc_text}"]
    if first_key is not None:
        lines.append(f'Project "{project}" API key: {first_key}   (shown once)')
    lines.extend(extra)
    address = parse_store(settings.store)
    if address.kind != "duckdb":
        lines.append(f"Store: {address.describe()}")
    lines.append(f"Data directory: {settings.data_dir.resolve()}")
    print("\n".join(lines), file=out, flush=True)
