"""A shortcut to the endpoint of a request a client sends many times a second (one score
a request: ``POST /api/v1/scores``), past the router and the two layers of exception
handling around an endpoint.

:class:`Direct` is the innermost middleware of the app: inside the pages' security
headers (its answer gets them as every answer does), outside Starlette's exception
handling and router. A request of one of its routes goes straight to the endpoint,
whose answer it sends. When the endpoint raises, the request goes on through the usual
layers with the error put aside in its scope, and the route's endpoint (wrapped by
:func:`routed`) raises it again where it was raised before: so every error answer (a
400, 401, 413, 503, a client gone, an unexpected error) is the one it was, made by the
same handlers. The router, the exception handling and the two ``Request`` objects they
made cost about 20 us of the server's CPU a score request, a twentieth of it
(docs/performance.md, session 16).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]

_RAISED = "lamina.direct.raised"  # the scope's key for the error the endpoint raised


class Direct:
    """Calls the endpoint of each (method, path) in ``endpoints`` at once (see the
    module's text); every other request goes on to ``app``."""

    def __init__(self, app: ASGIApp, endpoints: Mapping[tuple[str, str], Endpoint]) -> None:
        self.app = app
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = None
        if scope["type"] == "http" and not scope.get("root_path"):
            endpoint = self.endpoints.get((scope["method"], scope["path"]))
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await endpoint(Request(scope, receive, send))
        except Exception as exc:  # answered by the usual layers, as if raised there
            scope[_RAISED] = exc
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def routed(endpoint: Endpoint) -> Endpoint:
    """The endpoint as its route calls it: it raises the error :class:`Direct` put
    aside, if any, else answers."""

    async def answer(request: Request) -> Response:
        raised = request.scope.pop(_RAISED, None)
        if raised is not None:
            raise raised
        return await endpoint(request)

    answer.__doc__ = endpoint.__doc__
    return answer


__all__ = ["Direct", "Endpoint", "routed"]
