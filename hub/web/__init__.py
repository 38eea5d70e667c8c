"""The screens: server-rendered pages for residents, regisseurs and operators.

``/mijn`` (the resident), ``/werkplek`` (the regisseur and team lead),
``/beheer`` (the operator), ``/inloggen``. Jinja2 templates and plain HTML
forms: every action works without JavaScript, and the pages load no script at
all. The one stylesheet is the hub's own (``hub/web/static``), served by the
hub itself. Pages are not part of the OpenAPI document; their access rules are
tested in ``tests/web``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.web import auth, beheer, mijn, oidc_login, werkplek
from hub.web.render import page, redirect
from hub.web.session import LoginRequired, WebError

STATIC = Path(__file__).parent / "static"
# The paths that are pages, not API: their errors are pages too.
PAGE_PATHS = re.compile(r"^/(mijn|werkplek|beheer|inloggen|uitloggen)(/|$)|^/$")


def is_page(request: Request) -> bool:
    """Whether ``request`` is for a screen (its errors are answered as an HTML page)."""
    return bool(PAGE_PATHS.match(request.url.path))


def install(app: FastAPI) -> None:
    """Add the screens, their stylesheet and their error pages to the app."""
    ctx = app.state.hub
    for module in (auth, oidc_login, mijn, werkplek, beheer):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(WebError)
    async def _web_error(request: Request, exc: WebError):
        return page(request, ctx, "fout.html", status=exc.status, title=exc.title,
                    text=exc.text)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired):
        target = request.url.path if request.method == "GET" else ""
        return redirect(request, ctx, "/inloggen" + (f"?volgende={quote(target)}"
                                                     if target else ""))

    # The API answers problem+json; a person at a screen gets a page in Dutch instead.
    for kind, title, text in (
            (RequestValidationError, "Dit klopt niet",
             "Wat u stuurde kunnen we niet gebruiken. Ga terug en probeer het opnieuw."),
            (StarletteHTTPException, "Deze pagina bestaat niet",
             "Controleer het adres, of ga terug naar uw eigen pagina.")):
        fallback = app.exception_handlers[kind]

        def make(fallback=fallback, title=title, text=text):
            async def handler(request: Request, exc):
                if not is_page(request):
                    return await fallback(request, exc)
                status = getattr(exc, "status_code", 422)
                if status == 405:
                    status = 404
                return page(request, ctx, "fout.html", status=status, title=title, text=text)
            return handler

        app.add_exception_handler(kind, make())
