"""``python -m lamina.serve``: one server process, its settings from ``LAMINA_*``
variables. This is how a ``--workers N`` supervisor starts each worker
(lamina.serve.worker); people start a server with ``lamina serve``."""

from __future__ import annotations

import sys

from lamina import demo
from lamina.errors import LaminaError
from lamina.serve.server import serve
from lamina.settings import Settings


def main() -> None:
    try:
        settings = Settings.load()
        serve(settings, after_start=demo.load_on_start if settings.demo else None)
    except LaminaError as exc:
        print(f"Error: {exc.message}", file=sys.stderr, flush=True)
        sys.exit(2 if exc.code == "config_error" else 1)


if __name__ == "__main__":
    main()
