"""``lamina eval FILE.py ...``: run files that call ``lamina.evaluate`` (the counterpart
of ``lmnr eval``), for CI: the exit code says whether every run went through and met
its bars (``--fail-under NAME=VALUE``).
"""

from __future__ import annotations

import runpy
import sys
import traceback
from pathlib import Path

import click

EXIT_FAILED = 1


def _gate(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not NAME=VALUE with VALUE a number (e.g. exact=0.9)",
            param_hint="--fail-under",
        ) from None


def _run(file: Path) -> str | None:
    """Run ``file`` as ``python FILE`` would; what went wrong, if anything."""
    folder = str(file.resolve().parent)
    sys.path.insert(0, folder)
    try:
        runpy.run_path(str(file), run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            return f"{file} exited with {exc.code}"
    except Exception as exc:
        traceback.print_exc()
        return f"{file} raised {type(exc).__name__}: {exc}"
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return None


@click.command("eval", short_help="Run files that call lamina.evaluate; report their experiments.")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--fail-under",
    "gates",
    multiple=True,
    metavar="NAME=VALUE",
    help="Exit non-zero when a run's average of the score NAME is under VALUE (or no run "
    "has that score). May be given several times.",
)
def eval_command(files: tuple[Path, ...], gates: tuple[str, ...]) -> None:
    """Run Python files that call lamina.evaluate(...) and report their experiments.

    The files run one after the other, each as `python FILE` would run it (with the
    Lamina SDK's settings from the environment: LAMINA_PROJECT_API_KEY, LAMINA_BASE_URL).
    The exit code is 1 when a file raised, an executor or evaluator raised on an item,
    or a --fail-under bar was not met; 0 otherwise.
    """
    bars = [_gate(text) for text in gates]
    from lamina.sdk.evaluate import collecting  # the SDK, only when this command runs

    problems: list[str] = []
    with collecting() as results:
        for file in files:
            count = len(results)
            problem = _run(file)
            if problem is not None:
                problems.append(problem)
            elif len(results) == count:
                problems.append(f"{file} ran no experiment (it never called evaluate)")
    for result in results:
        if result.failed:
            first = result.errors[0]
            problems.append(
                f"experiment {result.name!r}: {len(result.errors)} of {len(result.items)} "
                f"items failed; item {first.index}: {first.error}"
            )
    for name, minimum in bars:
        scored = [result for result in results if name in result.averages]
        if not scored:
            problems.append(f"--fail-under {name}: no experiment has a score named {name!r}")
        for result in scored:
            average = result.averages[name]
            if average < minimum:
                problems.append(
                    f"experiment {result.name!r}: the average of {name!r} is {average:.4g}, "
                    f"under the {minimum:g} that --fail-under asks"
                )
    for problem in problems:
        click.echo(f"lamina eval: {problem}", err=True)
    if problems:
        sys.exit(EXIT_FAILED)
