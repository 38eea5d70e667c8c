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
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.api.routing import include
from hub.api.security import security_headers
from hub.web import auth, beheer, mijn, oidc_login, outreach, werkplek
from hub.web import plan as plan_pages
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
    for module in (auth, oidc_login, plan_pages, mijn, werkplek, outreach, beheer):
        include(app, module.router)
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
    # The API's handler still runs first (it logs, by type only, and picks the status).
    for kind in (RequestValidationError, StarletteHTTPException, OperationalError, DBAPIError,
                 Exception):
        app.add_exception_handler(kind, _as_page(app.exception_handlers[kind], ctx))


# What a person reads for each status the API's error handlers choose.
_ERROR_TEXTS = {
    404: ("Deze pagina bestaat niet",
          "Controleer het adres, of ga terug naar uw eigen pagina."),
    422: ("Dit klopt niet",
          "Wat u stuurde kunnen we niet gebruiken. Ga terug en probeer het opnieuw."),
    503: ("Even niet beschikbaar",
          "Deze dienst is nu even niet bereikbaar. Probeer het over een paar minuten "
          "opnieuw."),
    500: ("Er ging iets mis",
          "Er ging bij ons iets mis. Probeer het later opnieuw. Blijft het misgaan, neem dan "
          "contact op met uw wijkteam."),
}


def _as_page(fallback, ctx):
    async def handler(request: Request, exc: Exception):
        answer = await fallback(request, exc)
        if not is_page(request):
            return answer
        status = 404 if answer.status_code == 405 else answer.status_code
        title, text = _ERROR_TEXTS.get(status) or _ERROR_TEXTS[500 if status >= 500 else 422]
        response = page(request, ctx, "fout.html", status=status, title=title, text=text)
        # A last-resort 500 is answered outside the middleware that adds these.
        for name, value in security_headers(request.scope).items():
            response.headers.setdefault(name, value)
        if "retry-after" in answer.headers:
            response.headers["Retry-After"] = answer.headers["retry-after"]
        return response
    return handler
