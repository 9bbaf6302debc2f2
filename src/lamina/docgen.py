"""Generate docs/cli.md and docs/configuration.md from the code itself.

    python -m lamina.docgen          # rewrite both files
    python -m lamina.docgen --check  # exit 1 if either is out of date (the tests do this)

The CLI reference is every command's --help text; the configuration page is
the Settings object's fields. Neither can drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lamina.cli import main as cli
from lamina.settings import describe

DOCS = Path(__file__).resolve().parents[2] / "docs"


def commands(group: click.Group, prefix: str = "lamina") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(commands(command, path))
    return found


def cli_reference() -> str:
    parts = [
        "# CLI reference\n",
        "Generated from `lamina --help` by `python -m lamina.docgen`; do not edit by hand.\n",
        "Commands that manage a data dir (`projects`, `keys`, `users`, `sessions`, `traces`,",
        "`demo`, `export`, `import`) work whether or not `lamina serve` is running on it: while",
        "it runs they go through the server, otherwise they open the data dir themselves.\n",
    ]
    for path, command in [("lamina", cli), *commands(cli)]:
        with click.Context(command, info_name=path, terminal_width=100) as context:
            text = command.get_help(context)
        parts.append(f"## `{path}`\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


def configuration_reference() -> str:
    lines = [
        "# Configuration\n",
        "Generated from `lamina.settings.Settings` by `python -m lamina.docgen`; do not edit by",
        "hand. Every setting of `lamina serve` can be given as a flag or as an environment",
        "variable; a flag beats the variable, which beats the default.\n",
        "| setting | flag | environment variable | default | what it does |",
        "|---|---|---|---|---|",
    ]
    for row in describe():
        default = f"`{row['default']}`" if row["default"] else "(none)"
        lines.append(
            f"| {row['name']} | `{row['flag']}` | `{row['env']}` | {default} | {row['help']} |"
        )
    lines += [
        "",
        "## Connections, and a reverse proxy on the internet",
        "",
        "Each server process holds at most `max_connections` HTTP connections, and",
        "`max_connections_per_client` from one client address. A connection may sit without a",
        "request for `keep_alive_seconds`; a request's headers must arrive within",
        "`header_timeout_seconds` of its first byte, and its body must then average",
        "`min_body_rate` bytes a second (after a grace of `header_timeout_seconds`), or the",
        "connection is closed with 408. When the server is full, a new connection takes the",
        "place of the one that has waited longest for its request, so clients that open",
        "connections and send nothing (or send slowly) cannot keep a signed-in user or an",
        "exporter out. With `--workers N` each worker has these limits.",
        "",
        "These limits stop a few clients from holding the server; they are not a defence",
        "against a distributed attack. On the internet, put Lamina behind a reverse proxy",
        "(nginx, Caddy, HAProxy or a cloud load balancer) that terminates TLS, buffers",
        "requests and limits connections and requests per client, and keep `--host` on",
        "127.0.0.1 or a private address. Behind a proxy every connection comes from the",
        "proxy's address, so raise `max_connections_per_client` to the proxy's own connection",
        "limit. These limits are the HTTP port's; a proxy in front of OTLP/gRPC (port 4317)",
        "must speak HTTP/2.",
        "",
        "The Python SDK reads its own variables (`LAMINA_PROJECT_API_KEY`, `LAMINA_BASE_URL`",
        "and a few limits): see [sdk.md](sdk.md).",
        "",
    ]
    return "\n".join(lines)


PAGES = {"cli.md": cli_reference, "configuration.md": configuration_reference}


def main(argv: list[str]) -> int:
    stale = []
    for name, render in PAGES.items():
        path = DOCS / name
        text = render()
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run `python -m lamina.docgen`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
