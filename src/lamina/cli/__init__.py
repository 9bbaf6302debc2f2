"""The ``lamina`` command: one module per group of subcommands.

- :mod:`~lamina.cli.serve`: ``serve``, ``demo``
- :mod:`~lamina.cli.admin`: ``projects``, ``keys``, ``users``
- :mod:`~lamina.cli.browse`: ``sessions``, ``traces``
- :mod:`~lamina.cli.scores`: ``scores``
- :mod:`~lamina.cli.comments`: ``comments``
- :mod:`~lamina.cli.datasets`: ``datasets``
- :mod:`~lamina.cli.evaluators`: ``evaluators``
- :mod:`~lamina.cli.evaluate`: ``eval``
- :mod:`~lamina.cli.data`: ``export``, ``import``
- :mod:`~lamina.cli.quarantine`: ``quarantine``

:mod:`~lamina.cli.common` holds what they share, :func:`~lamina.cli.common.connect`
above all: the commands work on a data dir whether or not a server runs on it.
"""

from __future__ import annotations

import click

from lamina.cli import admin, browse, comments, data, datasets, quarantine, scores, serve
from lamina.cli import evaluate as eval_commands
from lamina.cli import evaluators as evaluator_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lamina")
def main() -> None:
    """Lamina: self-hostable observability for LLM applications."""


for command in (
    serve.serve,
    serve.demo_command,
    admin.projects,
    admin.keys,
    admin.users,
    browse.sessions,
    browse.traces,
    scores.scores,
    comments.comments,
    datasets.datasets,
    evaluator_commands.evaluators,
    eval_commands.eval_command,
    data.export_command,
    data.import_command,
    quarantine.quarantine,
):
    main.add_command(command)

__all__ = ["main"]
