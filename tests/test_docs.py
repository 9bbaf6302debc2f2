"""The docs match the code: generated references are current, every route is documented."""

from __future__ import annotations

import re
from pathlib import Path

from lamina import docgen
from lamina.receivers import http as otlp
from lamina.settings import describe
from lamina.web import admin, api, comments, metrics, shares
from lamina.web import evaluators as evaluator_api
from lamina.web import users as user_api

ROOT = Path(__file__).resolve().parents[1]


def test_generated_references_are_current() -> None:
    for name, render in docgen.PAGES.items():
        assert (ROOT / "docs" / name).read_text() == render(), (
            f"docs/{name} is stale: run `python -m lamina.docgen`"
        )


def test_every_setting_is_documented_with_flag_and_variable() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for row in describe():
        assert f"`{row['flag']}`" in text and f"`{row['env']}`" in text


def test_every_route_is_in_the_api_reference() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    routes = [*api.routes, *otlp.routes, *admin.routes, *shares.routes, *comments.routes]
    for route in [*routes, *metrics.routes, *user_api.routes]:
        path = re.sub(r":\w+}", "}", route.path)  # type: ignore[attr-defined]
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert f"`{method} {path}`" in text, f"{method} {path}"


def test_every_evaluator_route_is_in_the_api_reference() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    for route in evaluator_api.routes:
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert f"`{method} {route.path}`" in text, f"{method} {route.path}"  # type: ignore[attr-defined]


def test_every_experiment_route_is_in_the_api_reference() -> None:
    from lamina.web import experiments

    text = (ROOT / "docs" / "api.md").read_text()
    for route in experiments.routes:
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert f"`{method} {route.path}`" in text, f"{method} {route.path}"  # type: ignore[attr-defined]


def test_every_dataset_route_is_in_the_api_reference() -> None:
    from lamina.web import datasets

    text = (ROOT / "docs" / "api.md").read_text()
    for route in datasets.routes:
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert f"`{method} {route.path}`" in text, f"{method} {route.path}"  # type: ignore[attr-defined]


def test_every_laminar_route_is_in_the_compatibility_page() -> None:
    """Laminar's own API (lamina.web.laminar): each path in docs/compatibility.md
    (its parameters may be named as Laminar's docs name them)."""
    from lamina.web.laminar import routes

    text = (ROOT / "docs" / "compatibility.md").read_text()
    for route in routes:
        pattern = re.sub(r"\\{\w+\\}", r"{\\w+}", re.escape(route.path))  # type: ignore[attr-defined]
        assert re.search(f" {pattern}[`?]", text), route.path  # type: ignore[attr-defined]


def test_readme_gives_the_two_setup_commands_and_they_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_cli_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for path, _ in docgen.commands(docgen.cli):
        top = " ".join(path.split()[:2])
        assert f"`{top}" in readme, top
