"""The `lamina` command (and `python -m lamina`): the CLI of lamina.cli.

The CLI and the server need the `server` extra's packages. An application that
installed only the SDK (`pip install .`) gets the command too; there it says in
one line how to install the rest, rather than failing on an import.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, distribution

SERVER_HINT = (
    "pip install '.[server]' in a copy of Lamina's repository "
    "(or pip install 'lamina[server]' once it is on PyPI)"
)

DECODER_NOTE = (
    "lamina: the OTLP decoder in C is not built, so this server decodes spans in Python "
    "(several times slower). To build it: LAMINA_BUILD_DECODER=1 pip install '.[server]' "
    "in a copy of Lamina's repository (scripts/setup.sh does)."
)


def missing_server_packages() -> list[str]:
    """The `server` extra's packages that are not installed (none when Lamina runs
    from a source tree without being installed)."""
    try:
        requirements = distribution("lamina").requires or []
    except PackageNotFoundError:
        return []
    missing = []
    for requirement in requirements:
        if not re.search(r"""extra\s*==\s*["']server["']""", requirement):
            continue
        name = re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0]
        try:
            distribution(name)
        except PackageNotFoundError:
            missing.append(name)
    return missing


def main() -> None:
    missing = missing_server_packages()
    if missing:
        named = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        sys.exit(
            "lamina: this install has Lamina's SDK only; the server and its commands need "
            f"more packages ({named}). Install them: {SERVER_HINT}."
        )
    if sys.argv[1:2] == ["serve"]:
        from lamina.otlp import wire

        if not wire.BUILT:
            print(DECODER_NOTE, file=sys.stderr, flush=True)
    from lamina.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
