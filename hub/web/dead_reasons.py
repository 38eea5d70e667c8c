"""Why a dead letter died, in Dutch for the operator, with what to do (issue 15, item 9).

The stored reason is for logs and the API: ids and error types in English
("failed 5 times; last error: HTTP 503", "partner endpoint unusable: …"). The
dashboard says what it means and what fixes it, naming the partner's command
where the fix is the operator's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LAST_ERROR = re.compile(r"^failed (\d+) times; last error: (.*)$", re.S)
_HTTP = re.compile(r"^HTTP (\d{3})$")


@dataclass(frozen=True)
class Advice:
    """The Dutch reason, what to do, and the command that fixes it (if any)."""

    reason: str
    todo: str
    command: str | None = None


def advise(raw: str, *, partner: str | None) -> Advice:
    """Explain a dead letter's stored ``raw`` reason for ``partner`` (its name, or None)."""
    attempts, error = None, raw.strip()
    if match := _LAST_ERROR.match(error):
        attempts, error = int(match.group(1)), match.group(2).strip()
    named = f'"{partner}"' if partner else "NAAM"
    update = f"hub partner update --name {named} --endpoint https://…"
    if error.startswith("partner endpoint unusable"):
        return Advice("Het adres van deze partner klopt niet.",
                      "Pas het aan en bied het bericht daarna opnieuw aan.", update)
    if error == "partner has no endpoint":
        return Advice("Voor deze partner is geen adres ingesteld.",
                      "Stel het adres in en bied het bericht daarna opnieuw aan.", update)
    if error == "partner is not active":
        return Advice("Deze partner is uitgeschakeld.",
                      "Bied het bericht pas opnieuw aan als de partner weer meedoet.")
    if match := _HTTP.match(error):
        code = int(match.group(1))
        if code < 500 and code not in (408, 425, 429):
            return Advice(f"De partner weigerde het bericht (antwoord {code}).",
                          "Vraag de partner waarom, en bied het bericht opnieuw aan als het "
                          "aan hun kant is opgelost.")
        return Advice(f"De partner gaf steeds een foutmelding (antwoord {code})"
                      + (f", {attempts} keer." if attempts else "."),
                      "Kijk of de partner weer werkt, en bied het bericht daarna opnieuw aan.")
    if error in ("ConnectError", "ConnectTimeout", "ReadTimeout", "WriteTimeout",
                 "PoolTimeout", "RemoteProtocolError", "ReadError", "TimeoutException"):
        return Advice("De partner was niet bereikbaar"
                      + (f" ({attempts} pogingen)." if attempts else "."),
                      "Kijk of het adres klopt en de partner werkt, en bied het bericht "
                      "daarna opnieuw aan.", update)
    if "without an ack" in error or error.startswith("dead-lettered by the broker"):
        return Advice("Een verwerker stopte steeds bij dit bericht.",
                      "Bied het opnieuw aan; lukt het dan weer niet, geef het nummer door aan "
                      "de ontwikkelaars.")
    return Advice("Het bericht kon niet worden verwerkt"
                  + (f" ({attempts} pogingen)." if attempts else "."),
                  "Bied het opnieuw aan; lukt het dan weer niet, geef het nummer en de "
                  "technische reden door aan de ontwikkelaars.")
