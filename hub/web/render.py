"""Rendering pages: the Jinja2 environment, Dutch filters, and the headers every page gets."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from consent import explain
from hub.core.context import HubContext
from hub.web import session as web_session

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

# Pages load only the hub's own stylesheet; no script at all, no inline style, no framing.
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")

# Field names the consent module has no word for yet; the rest come from consent.explain.
_EXTRA_FIELD_WORDS = {"description": "omschrijving", "kind": "soort", "postcode": "postcode",
                      "huisnummer": "huisnummer", "summary": "samenvatting"}
_BASIS_WORDS = {"consent": "toestemming van de bewoner", "statute": "de wet",
                "safety": "veiligheid (meldrecht)",
                "own_request": "de eigen vraag van de bewoner"}
_STATUS_WORDS = {"new": "nieuw", "taken_up": "opgepakt", "closed": "afgesloten"}
_CONSENT_STATUS_WORDS = {"active": "geldig", "revoked": "ingetrokken", "expired": "verlopen",
                         "refused": "geweigerd", "pending": "open", "approved": "toegestaan",
                         "denied": "geweigerd"}


def field_word(name: str) -> str:
    """The Dutch word for a data field."""
    return _EXTRA_FIELD_WORDS.get(name) or explain.describe_field(name)


def show(value: Any) -> str:
    """A value as text on a page: nested address-like values joined, nothing shown as 'None'."""
    if value is None or value == "":
        return "(onbekend)"
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, dict) and {"straat", "postcode", "huisnummer"} <= set(value):
        # With the street (from the registry): "Krispijnseweg 12, 3317AB Dordrecht".
        place = f" {value['woonplaats']}" if value.get("woonplaats") else ""
        return f"{value['straat']} {value['huisnummer']}, {value['postcode']}{place}"
    if isinstance(value, dict) and {"postcode", "huisnummer"} <= set(value):
        # An address as the Dutch write it: "3317AB 12", with any addition after it.
        rest = {k: v for k, v in value.items() if k not in ("postcode", "huisnummer")}
        head = f"{value['postcode']} {value['huisnummer']}"
        return f"{head} ({show(rest)})" if any(v not in (None, "") for v in rest.values()) \
            else head
    if isinstance(value, dict):
        return ", ".join(f"{field_word(k)}: {show(v)}" if k not in ("postcode", "huisnummer")
                         else show(v) for k, v in value.items() if v not in (None, ""))
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value)
    if isinstance(value, datetime):
        return moment(value)
    return str(value)


def _dutch_zone() -> tzinfo:
    # As consent.explain does: a slim container without the tz database shows UTC.
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:
        return UTC


ZONE = _dutch_zone()


def moment(value: datetime | None) -> str:
    """Date and time in Dutch time: "3 maart 2026, 14.05 uur"."""
    if value is None:
        return "(onbekend)"
    local = value.astimezone(ZONE)
    return f"{explain.format_date(value)}, {local:%H.%M} uur"


def hour(value: datetime) -> str:
    """The hour in Dutch time, as a chart's axis says it: "14.00"."""
    return f"{value.astimezone(ZONE):%H}.00"


def day_hour(value: datetime) -> str:
    """Day, month and hour in Dutch time, for a table row: "23-11 14.00"."""
    return f"{value.astimezone(ZONE):%d-%m %H}.00"


def day(value: datetime | None) -> str:
    """The Dutch calendar date: "3 maart 2026"."""
    return "(onbekend)" if value is None else explain.format_date(value)


def first_upper(text: str) -> str:
    """The text with its first letter a capital and the rest untouched ("Wmo" stays "Wmo";
    Jinja's ``capitalize`` would lower it)."""
    return text[:1].upper() + text[1:]


TEMPLATES.env.filters.update(
    hoofdletter=first_upper, veld=field_word, toon=show, moment=moment, datum=day, uur=hour,
    dag_uur=day_hour,
    grondslag=lambda b: _BASIS_WORDS.get(b or "", b or "(onbekend)"),
    itemstatus=lambda s: _STATUS_WORDS.get(s, s),
    toestemmingstatus=lambda s: _CONSENT_STATUS_WORDS.get(s, s),
    categorie=explain.describe_category)


def page(request: Request, ctx: HubContext, name: str, *, status: int = 200,
         **context: Any) -> HTMLResponse:
    """Render template ``name`` with the session (user, CSRF token) and save the cookie."""
    sess = web_session.load_session(request, ctx)
    user = getattr(request.state, "web_principal", None)
    response = TEMPLATES.TemplateResponse(
        request, name, {"csrf": sess.csrf, "user": user, "user_name": sess.name,
                        "wijk_name": ctx.wijkmap.name(user.wijk) if user and user.wijk else None,
                        **context}, status_code=status)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    web_session.save(request, response, ctx)
    return response


def redirect(request: Request, ctx: HubContext, to: str) -> RedirectResponse:
    """A 303 See Other (after a form: the browser then GETs ``to``), saving the cookie."""
    response = RedirectResponse(to, status_code=303)
    web_session.save(request, response, ctx)
    return response
