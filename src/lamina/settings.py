"""The one settings object, built from command-line flags and LAMINA_* variables.

Each field carries its flag, its environment variable and its help text;
the ``lamina serve`` options and docs/configuration.md are made from, and
tested against, this list. A flag beats the environment, which beats the
default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from lamina.errors import ConfigError

MiB = 1024 * 1024


def _setting(default: Any, env: str, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = _setting("127.0.0.1", "LAMINA_HOST", "Address to listen on for HTTP and gRPC.")
    port: int = _setting(
        5667, "LAMINA_PORT", "HTTP port: web pages, JSON API and OTLP/HTTP (0 picks a free port)."
    )
    grpc_port: int = _setting(
        4317, "LAMINA_GRPC_PORT", "OTLP/gRPC port (0 picks a free port; -1 turns gRPC off)."
    )
    data_dir: Path = _setting(
        Path(".lamina"), "LAMINA_DATA_DIR", "Directory holding the DuckDB file and server state."
    )
    store: str = _setting(
        "",
        "LAMINA_STORE",
        "Where spans live: empty for the DuckDB file in the data dir; "
        "clickhouse://USER:PASS@HOST:8123/DB for a ClickHouse server that any number of "
        "Lamina servers share; chdb:///PATH for ClickHouse's engine in this process.",
    )
    max_body_bytes: int = _setting(
        16 * MiB,
        "LAMINA_MAX_BODY_BYTES",
        "Largest OTLP request accepted, measured after decompression (413 above it).",
    )
    max_inflight_bytes: int = _setting(
        256 * MiB,
        "LAMINA_MAX_INFLIGHT_BYTES",
        "Request bytes (as sent, compressed or not) held at once while reading and decoding "
        "(429 above it).",
    )
    max_connections: int = _setting(
        4096,
        "LAMINA_MAX_CONNECTIONS",
        "HTTP connections a server process holds at once. When full, a new connection "
        "replaces the one that has waited longest for its request; only when every one has "
        "a request in progress is it refused with 503.",
    )
    max_connections_per_client: int = _setting(
        256,
        "LAMINA_MAX_CONNECTIONS_PER_CLIENT",
        "HTTP connections one client address may hold open at once (503 above it). Behind a "
        "reverse proxy every connection comes from the proxy's address: raise it there.",
    )
    keep_alive_seconds: int = _setting(
        5,
        "LAMINA_KEEP_ALIVE_SECONDS",
        "Seconds an HTTP connection may stay open without a request (before its first one "
        "and between requests).",
    )
    header_timeout_seconds: int = _setting(
        10,
        "LAMINA_HEADER_TIMEOUT_SECONDS",
        "Seconds a request's headers may take to arrive, from its first byte (408 after "
        "it); also the time a body has before its minimum rate applies.",
    )
    min_body_rate: int = _setting(
        8192,
        "LAMINA_MIN_BODY_RATE",
        "Bytes a second a request body must average once header_timeout_seconds have "
        "passed; slower uploads are cut off with 408 (0: no minimum).",
    )
    decode_workers: int = _setting(
        -1,
        "LAMINA_DECODE_WORKERS",
        "Processes that decode OTLP requests (-1: one per CPU core; 0: decode in the server "
        "process).",
    )
    workers: int = _setting(
        1,
        "LAMINA_WORKERS",
        "Server processes on this machine sharing the HTTP and gRPC ports; more than 1 "
        "needs a store they can share (--store clickhouse://...).",
    )
    max_queue_spans: int = _setting(
        100_000,
        "LAMINA_MAX_QUEUE_SPANS",
        "Spans waiting to be written before new requests get 429/RESOURCE_EXHAUSTED (also "
        "the most the embedded store holds journaled before storing them in its file).",
    )
    max_batch_spans: int = _setting(
        20_000, "LAMINA_MAX_BATCH_SPANS", "Most spans written in one transaction (group commit)."
    )
    store_memory_mb: int = _setting(
        256,
        "LAMINA_STORE_MEMORY_MB",
        "Memory the embedded DuckDB store may use for caching and queries, in MiB "
        "(larger work spills to <data dir>/tmp).",
    )
    store_threads: int = _setting(
        0,
        "LAMINA_STORE_THREADS",
        "Threads the embedded DuckDB store may use (0: half the CPU cores, at least 1; "
        "the decode workers use the rest).",
    )
    price_file: Path | None = _setting(
        None,
        "LAMINA_PRICE_FILE",
        "JSON file of model prices that overrides or extends the built-in table.",
    )
    retention_check_seconds: int = _setting(
        3600,
        "LAMINA_RETENTION_CHECK_SECONDS",
        "How often the server deletes traces older than their project's retention "
        "(`lamina projects retention`), in seconds; also once at start.",
    )
    evaluator_concurrency: int = _setting(
        2,
        "LAMINA_EVALUATOR_CONCURRENCY",
        "Evaluator runs (checks and LLM judge calls) one server process does at once, "
        "beside ingest (0: this server runs none).",
    )
    evaluator_poll_ms: int = _setting(
        5000,
        "LAMINA_EVALUATOR_POLL_MS",
        "How often the server looks for sessions and traces that went quiet and for "
        "queued evaluator runs, in milliseconds.",
    )
    evaluator_lease_seconds: int = _setting(
        300,
        "LAMINA_EVALUATOR_LEASE_SECONDS",
        "Seconds a server holds an evaluator run before another server may take it over "
        "(the first one stopped mid-run); keep it above the longest judge call.",
    )
    evaluator_allowed_hosts: str = _setting(
        "",
        "LAMINA_EVALUATOR_ALLOWED_HOSTS",
        "Hosts an LLM judge may call although they are on this machine or a private "
        "network (comma-separated names or IP addresses, as in the judge's base_url; * "
        "for any). Judges are refused loopback, private, link-local and other non-public "
        "addresses otherwise: any project key can set a judge's address.",
    )
    sql_timeout_seconds: int = _setting(
        10,
        "LAMINA_SQL_TIMEOUT_SECONDS",
        "The SQL console (POST /api/v1/sql) stops a query that runs longer than this, in "
        "seconds. On chDB a query and ingest take turns: this is also the longest ingest "
        "waits for one.",
    )
    sql_max_rows: int = _setting(
        10_000, "LAMINA_SQL_MAX_ROWS", "Rows the SQL console answers at most for one query."
    )
    sql_memory_mb: int = _setting(
        512,
        "LAMINA_SQL_MEMORY_MB",
        "Memory one SQL console query may use, in MiB (ClickHouse: max_memory_usage). On "
        "DuckDB at most half of --store-memory-mb: ingest keeps the rest.",
    )
    demo: bool = _setting(
        False, "LAMINA_DEMO", "Load the demo sessions through OTLP after start (once per data dir)."
    )
    log_level: str = _setting("info", "LAMINA_LOG_LEVEL", "debug, info, warning or error.")

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Defaults, then LAMINA_* variables, then explicit overrides (flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = env.get(spec.metadata["env"])
            if raw is not None and raw != "":
                values[spec.name] = _convert(spec.name, spec.metadata["env"], raw, spec.default)
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = value
        settings = replace(cls(), **values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in ("port", "grpc_port"):
            port = getattr(self, name)
            if not -1 <= port <= 65535 or (name == "port" and port < 0):
                raise ConfigError(f"{name} must be a port number (0-65535); got {port}.")
        if self.max_body_bytes < 1024:
            raise ConfigError("max_body_bytes must be at least 1024.")
        if self.max_inflight_bytes < self.max_body_bytes:
            raise ConfigError("max_inflight_bytes must be at least max_body_bytes.")
        if self.store_memory_mb < 64:
            raise ConfigError("store_memory_mb must be at least 64.")
        if self.store_threads < 0:
            raise ConfigError("store_threads must be 0 (automatic) or more.")
        if self.decode_workers < -1:
            raise ConfigError("decode_workers must be -1 (automatic), 0 or more.")
        if self.workers < 1:
            raise ConfigError("workers must be at least 1.")
        for name in (
            "max_connections",
            "max_connections_per_client",
            "keep_alive_seconds",
            "header_timeout_seconds",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1; got {getattr(self, name)}.")
        if self.min_body_rate < 0:
            raise ConfigError("min_body_rate must be 0 (no minimum) or more.")
        if self.evaluator_concurrency < 0 or self.evaluator_poll_ms < 10:
            raise ConfigError(
                "evaluator_concurrency must be 0 or more and evaluator_poll_ms at least 10."
            )
        if self.evaluator_lease_seconds < 1:
            raise ConfigError("evaluator_lease_seconds must be at least 1.")
        if self.sql_timeout_seconds <= 0 or self.sql_max_rows < 1 or self.sql_memory_mb < 16:
            raise ConfigError(
                "sql_timeout_seconds must be above 0, sql_max_rows at least 1 and "
                "sql_memory_mb at least 16."
            )
        if self.sql_timeout_seconds < 1 or self.sql_max_rows < 1 or self.sql_memory_mb < 16:
            raise ConfigError(
                "sql_timeout_seconds and sql_max_rows must be at least 1, sql_memory_mb at "
                "least 16."
            )
        if self.retention_check_seconds < 1:
            raise ConfigError("retention_check_seconds must be at least 1.")
        if self.max_queue_spans < 1 or self.max_batch_spans < 1:
            raise ConfigError("max_queue_spans and max_batch_spans must be positive.")
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise ConfigError(
                f"log_level must be debug, info, warning or error; got {self.log_level!r}."
            )
        from lamina.store.clickhouse.client import parse_store

        parse_store(self.store)  # a store address that cannot work fails at start
        if self.price_file is not None and not Path(self.price_file).is_file():
            raise ConfigError(f"The price file {self.price_file} does not exist.")

    @property
    def workers_for_decoding(self) -> int:
        if self.decode_workers >= 0:
            return self.decode_workers
        # One per core, shared by the server processes (--workers): on 2 cores, 2 decode
        # workers measured 11.3k spans/s against 8.9k for one (docs/performance.md).
        return max(1, (os.cpu_count() or 1) // self.workers)

    @property
    def threads_for_store(self) -> int:
        if self.store_threads > 0:
            return self.store_threads
        # On 2 cores one DuckDB thread took 4 µs of CPU a span less than two (the second
        # thread's work costs more than it saves while decode workers use every core).
        return max(1, (os.cpu_count() or 1) // 2)


def describe() -> list[dict[str, str]]:
    """Every setting with its flag, variable, default and help: for docs and --help."""
    rows = []
    for spec in fields(Settings):
        default = spec.default
        rows.append(
            {
                "name": spec.name,
                "flag": "--" + spec.name.replace("_", "-"),
                "env": spec.metadata["env"],
                "default": "" if default is None else str(default),
                "help": spec.metadata["help"],
            }
        )
    return rows


def _convert(name: str, env: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{env} must be true or false; got {raw!r}.")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{env} must be a whole number; got {raw!r}.") from None
    if name in ("data_dir", "price_file"):
        return Path(raw)
    return raw
