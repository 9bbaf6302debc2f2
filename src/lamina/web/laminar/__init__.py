"""Laminar's own API (#24): the routes the official Laminar SDKs' HTTP clients call
(``LaminarClient``, ``evaluate``, ``lmnr eval``), at Laminar's paths beside Lamina's
``/api/v1``, with Laminar's field names, landing in Lamina's experiments, datasets,
SQL console and traces. A project API key (``Authorization: Bearer ...``) reads and
changes its own project only (lamina.web.access), as on every project route.
docs/compatibility.md ("Moving from Laminar") lists them.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from lamina.web.laminar import datasets, evals, sql, traces

routes: list[BaseRoute] = [*evals.routes, *datasets.routes, *sql.routes, *traces.routes]
