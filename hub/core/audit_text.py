"""The audit log as a resident reads it: one plain-Dutch sentence (B1) per event.

Only what the resident may know: who (staff by role and wijkteam, "uw
regisseur" for the household's designated one; a partner by its organisation's
name; or "u"), what happened to which kind of report, when, and why. Never a
login id (issue 15, item 12: "anna" means nothing to a resident and says too
much about staff), never "de hub" (the resident knows the wijkteam, not the
software), never another person's data: the events shown are all about them.
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
             team_name: str | None, home_team: str | None = None,
             own_regisseur: str | None = None) -> str:
    """One sentence about one event, e.g. "Een regisseur van het wijkteam Krispijn heeft
    de melding over huurachterstand bekeken op 3 maart 2026.".

    ``home_team`` is the name of the resident's wijk (staff are named by role and
    wijkteam); ``own_regisseur`` the user id of the household's designated regisseur,
    who is "Uw regisseur". ``actor`` is only compared, never shown.
    """
    when = dutch_date(at)
    report = f"de melding over {topic}" if topic else "een melding"
    staff = staff_phrase(actor=actor, role=role, home_team=home_team,
                         own_regisseur=own_regisseur)
    why = _basis(basis)
    why = f", {why}" if why else ""
    texts = {
        "read": f"{staff} heeft {report} bekeken op {when}.",
        "read.list": f"{staff} heeft {report} gezien in het overzicht op {when}.",
        "read.confidential": f"{staff} heeft {report} bekeken op {when}.",
        "withholding.start": (f"{report[0].upper()}{report[1:]} is een tijd niet in uw "
                              f"overzicht getoond, om iemand te beschermen. Dat besloot de "
                              f"gemeente op {when}."),
        "withholding.end": f"Een teamleider heeft {report} weer zichtbaar gemaakt op {when}.",
        "withholding.review": (f"Een teamleider heeft gekeken of {report} nog niet getoond "
                               f"mocht worden op {when}."),
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
                           f"doorgegeven aan het wijkteam op {when}."),
        "message.sent": (f"Het wijkteam heeft een bericht over u gestuurd aan "
                         f"{partner_name or 'een organisatie'} op {when}."),
        "dead_letter.replay": f"Een beheerder heeft {report} opnieuw laten verwerken op {when}.",
        # The household plan (issue 17).
        "read.plan": (f"U heeft uw plan bekeken op {when}." if role == "resident"
                      else f"{staff} heeft uw plan bekeken op {when}."),
        "plan.write": f"{staff} heeft uw plan aangepast op {when}.",
        "plan.state": f"{staff} heeft bijgehouden hoe een afspraak ervoor staat op {when}.",
        "plan.respond": f"U heeft gereageerd op uw plan op {when}.",
        "plan.progress": (f"{partner_name or 'Een organisatie'} heeft laten weten hoe een "
                          f"afspraak uit uw plan ervoor staat, op {when}."),
        "question.ask": f"U heeft een vraag gesteld aan het wijkteam op {when}.",
        "item.attach": f"{staff} heeft {report} aan u gekoppeld op {when}.",
    }
    return texts.get(action, f"Er is iets gedaan met uw gegevens op {when}.")


def staff_phrase(*, actor: str, role: str, home_team: str | None = None,
                 own_regisseur: str | None = None) -> str:
    """A staff member as the resident reads them: by role and wijkteam, never by login."""
    team = f"het wijkteam {home_team}" if home_team else "uw wijkteam"
    if role == "regisseur":
        if own_regisseur is not None and actor == own_regisseur:
            return f"Uw regisseur van {team}"
        return f"Een regisseur van {team}"
    if role == "teamlead":
        return f"Een teamleider van {team}"
    return "Een medewerker"


def group_repeats(entries: list[Any]) -> list[tuple[str, int]]:
    """Entries (newest first, each with ``text`` and ``at``) with repeats folded into one line.

    Two events are repeats when their sentences differ only in the date. A group
    reads "… bekeken (3 keer, laatst op 5 maart 2026)."; a single event keeps its
    sentence. Returns (sentence, count) in the order of each group's newest event.
    """
    groups: dict[str, list[Any]] = {}
    for entry in entries:
        when = dutch_date(entry.at)
        key = entry.text.replace(f", op {when}", "").replace(f" op {when}", "")
        groups.setdefault(key, []).append(entry)
    out = []
    for key, members in groups.items():
        if len(members) == 1:
            out.append((members[0].text, 1))
        else:
            newest = dutch_date(members[0].at)
            out.append((f"{key.rstrip('.')} ({len(members)} keer, laatst op {newest}).",
                        len(members)))
    return out


def is_core_action(action: str) -> bool:
    """Whether :func:`describe` has its own sentence for ``action`` (else a plugin may)."""
    return action in _CORE_ACTIONS


_CORE_ACTIONS = frozenset({
    "read", "read.list", "inbox.take_up", "inbox.close", "disclosure", "consent.grant",
    "consent.approve", "consent.deny", "consent.revoke", "consent.change", "consent.paper",
    "consent.import", "message.sent", "dead_letter.replay", "read.plan", "plan.write",
    "plan.state", "plan.respond", "plan.progress", "question.ask", "item.attach"})
