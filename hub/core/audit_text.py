"""The audit log as a resident reads it: one plain-Dutch sentence (B1) per event.

Only what the resident may know: who (their regisseur by name, a partner by
its organisation's name, or "u"), what happened to which kind of report, when,
and why. Never another person's data: the events shown are all about them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

_AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december")


def dutch_date(at: datetime) -> str:
    """``3 maart 2026``, in Dutch time."""
    local = at.astimezone(_AMSTERDAM)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


def _basis(basis: str | None) -> str:
    kind = (basis or "").split(":", 1)[0]
    return {"consent": "met uw toestemming",
            "statute": "omdat de wet dat toestaat",
            "safety": "voor uw veiligheid"}.get(kind, "")


def describe(*, action: str, actor: str, role: str, basis: str | None, data: dict[str, Any],
             at: datetime, topic: str | None, partner_name: str | None,
             team_name: str | None) -> str:
    """One sentence about one event, e.g. "Uw regisseur anna heeft de melding over
    huurachterstand bekeken op 3 maart 2026."."""
    when = dutch_date(at)
    report = f"de melding over {topic}" if topic else "een melding"
    staff = f"Uw regisseur {actor}" if role == "regisseur" else "Een medewerker"
    why = _basis(basis)
    why = f", {why}" if why else ""
    texts = {
        "read": f"{staff} heeft {report} bekeken op {when}.",
        "read.list": f"{staff} heeft {report} gezien in het overzicht op {when}.",
        "inbox.take_up": f"{staff} is met {report} aan de slag gegaan op {when}.",
        "inbox.close": f"{staff} heeft {report} afgesloten op {when}.",
        "disclosure": (f"{partner_name or 'Een organisatie'} heeft {report} gedeeld met "
                       f"het wijkteam {team_name or ''}".rstrip() + f"{why}, op {when}."),
        "consent.grant": f"U heeft toestemming gegeven op {when}.",
        "consent.approve": f"U heeft ja gezegd op een vraag om gegevens te delen op {when}.",
        "consent.deny": f"U heeft nee gezegd op een vraag om gegevens te delen op {when}.",
        "consent.revoke": f"U heeft uw toestemming ingetrokken op {when}.",
        "consent.change": f"U heeft uw toestemming aangepast op {when}.",
        "consent.paper": f"Uw toestemming op papier is vastgelegd op {when}.",
        "consent.import": (f"{partner_name or 'Uw huisarts'} heeft uw toestemming "
                           f"doorgegeven aan de hub op {when}."),
        "message.sent": (f"De hub heeft een bericht over u gestuurd aan "
                         f"{partner_name or 'een organisatie'} op {when}."),
        "dead_letter.replay": f"Een beheerder heeft {report} opnieuw laten verwerken op {when}.",
    }
    return texts.get(action, f"Er is iets gedaan met uw gegevens op {when}.")
