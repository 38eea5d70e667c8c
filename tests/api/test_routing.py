"""Routers are analysed once per process and shared by every app, with the app-wide checks."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from hub.api import problems
from hub.api.routing import APP_DEPENDENCIES, include
from hub.app import create_app


def _app_with(router: APIRouter) -> FastAPI:
    app = FastAPI(dependencies=list(APP_DEPENDENCIES))
    problems.install(app)  # the hub's answer to a refused value
    include(app, router)
    return app


def test_two_apps_of_one_process_share_each_included_router(ctx):
    first, second = create_app(ctx, run_worker=False), create_app(ctx, run_worker=False)
    # Same object, so FastAPI's analysis of its routes (cached on it) is done once.
    shared = [a for a, b in zip(first.router.routes, second.router.routes, strict=True)
              if a is b]
    assert len(shared) >= 20, "the hub's routers are analysed again for every app"


def test_an_included_route_refuses_control_characters_naming_the_parameter():
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def thing(thing_id: str, q: str = "") -> dict:
        return {"id": thing_id}

    with TestClient(_app_with(router)) as client:
        assert client.get("/things/abc").json() == {"id": "abc"}
        refused = client.get("/things/a%00b")
        assert refused.status_code == 422 and "thing_id" in refused.text
        assert "q" in client.get("/things/abc", params={"q": "x\x01"}).text


def test_a_router_with_start_up_work_still_does_it_with_every_app():
    started: list[str] = []
    router = APIRouter(on_startup=[lambda: started.append("up")])

    @router.get("/ping")
    async def ping() -> str:
        return "pong"

    for _ in range(2):
        started.clear()
        with TestClient(_app_with(router)) as client:
            assert started, "the router's start-up work did not run with this app"
            assert client.get("/ping").json() == "pong"
