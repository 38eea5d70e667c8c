"""Including a router in the app: the app-wide checks on every route, analysed once per process.

``app.include_router`` makes FastAPI analyse every route of the router anew for that
app: on the first request that reaches the router it inspects each endpoint's
signature and builds its dependency tree and pydantic fields (about 1 ms a route,
0.1 s for the hub's 96). A server builds one app and pays that once; a process that
builds many apps (the test suite builds one per test, about 10 % of its CPU) paid it
for every app. The inclusion depends only on the router and on the app-wide
dependencies, which are the same for every app, so it is made once per process and
every app shares it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import BaseRoute

from hub.api.deps import refuse_control_characters

# What FastAPI(dependencies=...) gives every route of the app; an included router's
# routes get it from the parent they are included in.
APP_DEPENDENCIES = (Depends(refuse_control_characters),)


def include(app: FastAPI, router: APIRouter) -> None:
    """Add ``router``'s routes to ``app``, each behind ``APP_DEPENDENCIES`` first.

    The same as ``app.include_router(router)`` on an app made with
    ``dependencies=APP_DEPENDENCIES``, but the routes are analysed once per process,
    not once per app. A router with start-up or shutdown work of its own is included
    the ordinary way, so that work is still tied to the app's lifespan.
    """
    if _has_lifespan_work(router):
        app.include_router(router)
        return
    app.router.routes.extend(_shared_inclusion(router))


# id(router) -> (router, the routes of its inclusion). Keyed by id: a router is
# unhashable; holding the router keeps its id from being reused by another object.
_INCLUSIONS: dict[int, tuple[APIRouter, tuple[BaseRoute, ...]]] = {}


def _shared_inclusion(router: APIRouter) -> tuple[BaseRoute, ...]:
    known = _INCLUSIONS.get(id(router))
    if known is None:
        parent = APIRouter(dependencies=list(APP_DEPENDENCIES))
        parent.include_router(router)
        # One lazily analysed route (FastAPI 0.165) or every route built at once (older
        # FastAPI): either way built here once, with the app-wide dependencies.
        included = tuple(parent.routes)
        # Two threads may both build it; either result is the same inclusion.
        known = _INCLUSIONS.setdefault(id(router), (router, included))
    return known[1]


def _has_lifespan_work(router: APIRouter) -> bool:
    default = type(APIRouter().lifespan_context)
    return bool(router.on_startup or router.on_shutdown
                or type(router.lifespan_context) is not default)
