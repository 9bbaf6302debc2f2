"""``lamina eval FILE.py`` (#22) against a real server: a file whose runs all go through
exits 0; one whose executor or evaluator raised on an item exits 1 saying which item
and what it raised (the run is still kept); ``--fail-under NAME=VALUE`` exits 1 when a
run's average of NAME is under VALUE, or no run has that score, and 0 when every run
meets it; a bar that is not NAME=VALUE is a usage error (2); a file that raises, or runs
no experiment, exits 1 too (the files after it still run).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import LAMINA, LaminaServer
from tests.sdk.test_evaluate import APP
from tests.sdk.test_evaluate import project as made_project
from tests.web.test_api_scores import Project

project = made_project  # the module-scoped fixture: a dataset "cases" of three items


def lamina_eval(project: Project, run: str, *options: str) -> subprocess.CompletedProcess[str]:
    env = {
        "LAMINA_PROJECT_API_KEY": project.key,
        "LAMINA_BASE_URL": project.server.url,
        "EVAL_DATA": "cases",
        "EVAL_RUN": run,
        "PATH": str(Path(LAMINA).parent),
    }
    return subprocess.run(
        [LAMINA, "eval", str(APP), *options], capture_output=True, text=True, timeout=60, env=env
    )


def test_a_run_that_goes_through_exits_0_and_meets_its_bars(project: Project) -> None:
    done = lamina_eval(project, "good", "--fail-under", "exact=0.6", "--fail-under", "short=1")
    assert done.returncode == 0, done.stderr
    assert "Experiment 'good run'" in done.stdout and "See it at http" in done.stdout


def test_an_average_under_its_bar_exits_1_saying_so(project: Project) -> None:
    done = lamina_eval(project, "good", "--fail-under", "exact=0.9", "--fail-under", "nothing=1")
    assert done.returncode == 1, done.stderr
    assert "the average of 'exact' is 0.6667, under the 0.9 that --fail-under asks" in (done.stderr)
    assert "no experiment has a score named 'nothing'" in done.stderr


@pytest.mark.parametrize(
    ("run", "said"),
    [
        ("raises", "the executor raised ValueError: no answer for question 2"),
        ("bad_evaluator", "the evaluator 'broken' raised RuntimeError: the judge is down"),
    ],
)
def test_an_executor_or_evaluator_that_raised_exits_1(
    project: Project, server: LaminaServer, run: str, said: str
) -> None:
    done = lamina_eval(project, run)
    assert done.returncode == 1, done.stderr
    assert said in done.stderr and "items failed" in done.stderr
    (kept,) = project.ok("GET", "/api/v1/experiments")["items"][:1]
    assert kept["name"] == f"{run} run"
    shown = project.ok("GET", f"/api/v1/experiments/{kept['experiment_id']}")["experiment"]
    assert shown["errors"] >= 1 and any(said in (i["error"] or "") for i in shown["items"])


def test_a_bar_that_is_not_name_equals_value_is_a_usage_error(project: Project) -> None:
    done = lamina_eval(project, "good", "--fail-under", "exact")
    assert done.returncode == 2
    assert "is not NAME=VALUE" in done.stderr


def test_a_file_that_raises_or_runs_no_experiment_exits_1(project: Project, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('the app failed to start')\n")
    idle = tmp_path / "idle.py"
    idle.write_text("print('nothing to evaluate')\n")
    env = {"LAMINA_PROJECT_API_KEY": project.key, "LAMINA_BASE_URL": project.server.url}
    done = subprocess.run(
        [LAMINA, "eval", str(broken), str(idle)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PATH": str(Path(LAMINA).parent)},
    )
    assert done.returncode == 1
    assert f"{broken} raised RuntimeError: the app failed to start" in done.stderr
    assert f"{idle} ran no experiment (it never called evaluate)" in done.stderr
    assert "nothing to evaluate" in done.stdout  # the second file ran all the same
