"""`lamina export` and `lamina import`: a project's data to files, and back."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lamina.cli.common import (
    connect,
    console,
    data_dir_option,
    err_console,
    handle_errors,
    progress_bars,
    project_option,
)


@click.command("export", short_help="Export sessions, traces, spans and scores (JSONL, Parquet).")
@project_option
@click.option("--session", "session_id", default=None, help="Only this session.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["jsonl", "parquet"]),
    default="jsonl",
    show_default=True,
    help="jsonl: one file of lines; parquet: a directory of four files.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="File (jsonl; - for standard output) or directory (parquet). "
    "Default: PROJECT.jsonl or PROJECT-parquet/.",
)
@data_dir_option
@handle_errors
def export_command(
    project: str,
    session_id: str | None,
    file_format: str,
    output: Path | None,
    data_dir: Path,
) -> None:
    """Export a project's (or one session's) sessions, traces, spans and scores."""
    from lamina.exchange import export

    name = project if session_id is None else f"{project}-{session_id}"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    target = output or Path(f"{safe}.jsonl" if file_format == "jsonl" else f"{safe}-parquet")
    counts = dict.fromkeys(export.KINDS, 0)
    with connect(data_dir) as ops, progress_bars() as progress:
        tasks = {kind: progress.add_task(kind, total=None) for kind in export.KINDS}
        holder = (
            ops.get_session(project=project, session_id=session_id)
            if session_id is not None
            else ops.get_project(project=project)
        )
        progress.update(tasks["spans"], total=holder["span_count"])

        def counted(rows: export.Rows) -> export.Rows:
            for kind, items in rows:
                for done in export.KINDS[: export.KINDS.index(kind)]:
                    progress.update(tasks[done], total=counts[done])
                counts[kind] += len(items)
                progress.update(tasks[kind], completed=counts[kind])
                yield kind, items
            for kind in export.KINDS:
                progress.update(tasks[kind], total=counts[kind])

        rows = counted(ops.export_rows(project=project, session_id=session_id))
        if file_format == "parquet":
            export.write_parquet(target, rows)
        elif str(target) == "-":
            for chunk in export.jsonl_lines(export.header(project, session_id), rows):
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        else:
            export.write_file(target, export.jsonl_lines(export.header(project, session_id), rows))
    where = "standard output" if str(target) == "-" else str(target)
    extras = [f"{counts[kind]} {kind}" for kind in ("scores", "comments") if counts.get(kind)]
    if counts.get("datasets"):
        extras.append(f"{counts['datasets']} datasets of {counts['dataset_items']} items")
    if counts.get("experiments"):
        made = f"{counts['experiments']} experiments of {counts['experiment_items']} items"
        extras.append(made)
    err_console.print(
        f"Exported {counts['sessions']} sessions, {counts['traces']} traces and "
        f"{counts['spans']} spans to {where}"
        + (f", with {' and '.join(extras)}." if extras else "."),
        highlight=False,
    )


@click.command("import", short_help="Import an export's spans into a project.")
@click.argument("file", type=click.Path(path_type=Path, exists=True))
@click.option("--project", required=True, help="The project to import into (made if new).")
@click.option(
    "--partial",
    is_flag=True,
    help="Import the spans of a JSONL file that lacks the trailer line a complete export "
    "ends with (an export cut short); without it such a file is refused.",
)
@data_dir_option
@handle_errors
def import_command(file: Path, project: str, partial: bool, data_dir: Path) -> None:
    """Import the spans and scores of an export (a JSONL file, a Parquet directory, or
    the session page's Parquet zip) into a project; its traces and sessions are rebuilt
    from the spans."""
    from lamina.exchange import importing
    from lamina.exchange.comments import read_comments
    from lamina.exchange.datasets import read_datasets
    from lamina.exchange.experiments import read_experiments
    from lamina.exchange.scores import read_scores

    spans = scores = comments = items = run_items = 0
    runs: set[str] = set()
    datasets: set[str] = set()
    chunks = importing.read_spans(file, partial=partial)  # a file it refuses makes no project
    with connect(data_dir) as ops:
        if project not in {p["name"] for p in ops.list_projects()}:
            ops.create_project(name=project)
            err_console.print(f'Created project "{project}".', highlight=False)
        with progress_bars() as progress:
            task = progress.add_task("spans", total=None)
            for chunk in chunks:
                result = ops.import_spans(project=project, spans=chunk)
                spans += result["spans"]
                progress.update(task, completed=spans)
            progress.update(task, total=spans)
        for scored in read_scores(file):
            scores += ops.import_scores(project=project, scores=scored)["scores"]
        for written in read_comments(file):
            comments += ops.import_comments(project=project, comments=written)["comments"]
        for dataset, chunk in read_datasets(file):  # through the datasets API
            ops.create_dataset(project=project, item=dataset)
            datasets.add(dataset["name"])
            if chunk:
                added = ops.add_dataset_items(project=project, name=dataset["name"], items=chunk)
                items += added["added"]
        for run, chunk in read_experiments(file):  # through the experiments API
            ops.create_experiment(project=project, given=run)
            runs.add(str(run["experiment_id"]))
            if chunk:
                done = ops.add_experiment_items(project, str(run["experiment_id"]), chunk)
                run_items += done["added"]
    extras = [f"{n} {what}" for n, what in ((scores, "scores"), (comments, "comments")) if n]
    if datasets:
        extras.append(f"{len(datasets)} datasets of {items} items")
    if runs:
        extras.append(f"{len(runs)} experiments of {run_items} items")
    with_extras = f", with {' and '.join(extras)}" if extras else ""
    console.print(f'Imported {spans} spans into project "{project}"{with_extras}.')
