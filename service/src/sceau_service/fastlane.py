"""A short way in for the signing routes: the service's own middleware, then the endpoint.

``POST /v1/seals`` and ``POST /v1/seals/batch`` are the service's hot path.  On the way
to them, a FastAPI application runs, besides the service's own middleware (CORS, rate
limits, body deadlines, strict JSON), layers of its own: telemetry and body-limit hooks,
the exception middleware, an exit stack, then the router, which matches the path against
the routes of every included router, and a wrapper that builds the request.  Under load
these cost about as much as sealing itself (docs/benchmarks.md).

:class:`SceauApp` builds, next to FastAPI's stack, a second one for the routes declared
with :class:`LeanRoute`: the server-error middleware and the same user middleware, in the
same order, around :class:`LeanEndpoints`, which calls the endpoint and turns any
exception into the answer the application's exception handlers give, as FastAPI would.
Everything else, including other methods on those paths, goes through FastAPI unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["LeanEndpoints", "LeanRoute", "SceauApp"]

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]
Handler = Callable[[Request, Exception], Any]  # FastAPI's: may or may not be a coroutine


class LeanRoute(APIRoute):
    """A route whose endpoint takes the :class:`Request` and returns the
    :class:`Response` itself: no dependency solving and no response-model processing
    (FastAPI's documented custom-route hook).  Its signature, ``response_model`` and
    ``openapi_extra`` still document it; :class:`SceauApp` also serves it without the
    router."""

    def get_route_handler(self) -> Endpoint:
        """The endpoint itself is the handler."""
        handler: Endpoint = self.endpoint
        return handler


class LeanEndpoints:
    """The innermost app of the short stack: ``(method, path)`` to endpoint.

    Exceptions are answered by the handler registered for the nearest class in their MRO
    (``app.exception_handlers``, as FastAPI's exception middleware looks them up), the
    ``Exception`` handler last, so that no failure leaves without a ``{"code", "detail"}``
    answer.
    """

    def __init__(self, endpoints: Mapping[tuple[str, str], Endpoint],
                 handlers: Mapping[Any, Handler]) -> None:
        self._endpoints = dict(endpoints)
        self._handlers = {k: v for k, v in handlers.items() if isinstance(k, type)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._endpoints[scope["method"], scope["path"]]
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:  # every failure gets the application's answer
            response = self._handler(exc)(request, exc)
            if not isinstance(response, Response):
                response = await response
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Handler:
        for cls in type(exc).__mro__:
            handler = self._handlers.get(cls)
            if handler is not None:
                return handler
        raise exc  # no handler at all: the server's own 500  # pragma: no cover


class _Dispatch:
    """Send lean routes to the short stack, everything else to FastAPI's."""

    def __init__(self, full: ASGIApp, lean: ASGIApp,
                 routes: frozenset[tuple[str, str]]) -> None:
        self._full = full
        self._lean = lean
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and not scope.get("root_path")
                and (scope["method"], scope["path"]) in self._routes):
            await self._lean(scope, receive, send)
        else:
            await self._full(scope, receive, send)


class SceauApp(FastAPI):
    """FastAPI, with :class:`LeanRoute` routes also reachable through the short stack.

    The short stack is used only when FastAPI's native telemetry is off (it observes
    requests in the layers skipped here).
    """

    def __init__(self, *args: Any, lean: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lean = lean

    def build_middleware_stack(self) -> ASGIApp:
        """FastAPI's stack, and beside it the user middleware around the lean routes."""
        full = super().build_middleware_stack()
        endpoints: dict[tuple[str, str], Endpoint] = {}
        # Included routers are nested in FastAPI's router: their routes, with the path
        # they are served at, come from FastAPI's own walk.
        for context in iter_route_contexts(self.router.routes):
            route = context.original_route
            if isinstance(route, LeanRoute) and context.path and context.methods:
                for method in context.methods:
                    endpoints[method, context.path] = route.endpoint
        if not self._lean or not endpoints:
            return full
        app: ASGIApp = LeanEndpoints(endpoints, self.exception_handlers)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        # Outermost, as in FastAPI's stack: a failure inside the middleware is still a
        # logged 500 with the application's answer.
        app = ServerErrorMiddleware(app, handler=self.exception_handlers.get(Exception),
                                    debug=self.debug)
        return _Dispatch(full, app, frozenset(endpoints))
