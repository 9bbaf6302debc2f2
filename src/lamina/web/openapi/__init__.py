"""The OpenAPI 3.0 description of the JSON API, served at ``GET /api/v1/openapi.json``.

Written by hand beside docs/api.md, from the same lists the query layer checks
parameters against (sorts, statuses, limits), so the two cannot disagree on those:
:mod:`~lamina.web.openapi.project` describes a project's routes,
:mod:`~lamina.web.openapi.scores` those of scores,
:mod:`~lamina.web.openapi.evaluators` those of evaluators,
:mod:`~lamina.web.openapi.comments` those of comments and stars,
:mod:`~lamina.web.openapi.shares` those of share links,
:mod:`~lamina.web.openapi.datasets` those of datasets,
:mod:`~lamina.web.openapi.experiments` those of experiments,
:mod:`~lamina.web.openapi.console` that of the SQL console,
:mod:`~lamina.web.openapi.metrics` those of metrics,
:mod:`~lamina.web.openapi.users` those of a project's end users,
:mod:`~lamina.web.openapi.laminar` Laminar's own API (its SDKs' routes),
:mod:`~lamina.web.openapi.admin`
the managing ones, :mod:`~lamina.web.openapi.schemas`
their answers. A test runs schemathesis against a live server with this document.
"""

from __future__ import annotations

from typing import Any

from lamina.web.openapi import admin, comments, metrics, project, schemas, scores, shares
from lamina.web.openapi import console as console_paths
from lamina.web.openapi import datasets as dataset_paths
from lamina.web.openapi import evaluators as evaluator_paths
from lamina.web.openapi import experiments as experiment_paths
from lamina.web.openapi import laminar as laminar_paths
from lamina.web.openapi import users as user_paths


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Lamina JSON API",
            "version": "1",
            "description": "Sessions and traces of the project your API key belongs to; "
            "with the data directory's admin token, every project, and the routes that "
            "manage projects, keys and accounts. See docs/api.md.",
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": {
            **project.paths(),
            **console_paths.paths(project.PROJECT),
            **scores.paths(project.PROJECT),
            **evaluator_paths.paths(project.PROJECT),
            **comments.paths(project.PROJECT),
            **shares.paths(project.PROJECT),
            **dataset_paths.paths(project.PROJECT),
            **experiment_paths.paths(project.PROJECT),
            **metrics.paths(project.PROJECT),
            **user_paths.paths(project.PROJECT),
            **admin.paths(),
            **laminar_paths.paths(),
        },
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A project API key (lmn_...), or the data directory's "
                    "admin token (<data dir>/admin.token).",
                }
            },
            "schemas": {
                **schemas.schemas(),
                **console_paths.schemas(),
                **scores.schemas(),
                **evaluator_paths.schemas(),
                **comments.schemas(),
                **shares.schemas(),
                **dataset_paths.schemas(),
                **experiment_paths.schemas(),
                **metrics.schemas(),
                **user_paths.schemas(),
                **laminar_paths.schemas(),
            },
        },
    }


__all__ = ["document"]
