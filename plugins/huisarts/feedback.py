"""Status back to the referring practice: the Task's new state, and maybe a closing summary.

Pure: the caller passes the resident's consents and the time.

**Sharing back.** The closing summary is about the resident's support, and the
practice is not the wijkteam: it may go back only on the resident's consent.
That consent is one the resident (or a regisseur with the paper form) records
as usual, with

- recipient ``wijkteam`` and the referral's category ``medisch``;
- a source covering the practice: its partner id in ``source_partners``, or
  ``huisarts`` in ``source_kinds``;
- a purpose that names ``terugkoppeling`` (e.g. "Terugkoppeling aan mijn huisarts
  over de verwijzing").

Approving the referral's consent request alone does *not* cover it (that
consent's purpose is support by the wijkteam), so without an explicit
terugkoppeling consent the Task is completed without a Communication.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from hub.plugin import DEFAULT_RECIPIENT, ConsentGrant

COMMUNICATION_SYSTEM = "https://wijkhub.nl/fhir/NamingSystem/communication"
FEEDBACK_WORD = "terugkoppeling"
CATEGORY = "medisch"
KIND = "huisarts"
MAX_SUMMARY = 2000


def shares_back(consents: Iterable[ConsentGrant], *, partner_id: str, now: datetime) -> bool:
    """True if an active consent covers sending the closing summary to this practice."""
    for grant in consents:
        if (grant.is_active_at(now) and grant.recipient == DEFAULT_RECIPIENT
                and CATEGORY in grant.categories
                and grant.covers_source(partner=partner_id, kind=KIND)
                and FEEDBACK_WORD in grant.purpose.lower()):
            return True
    return False


def communication(*, communication_id: str, task_id: str, summary: str,
                  sent: datetime) -> dict[str, Any]:
    """The closing summary as an R4 Communication about the Task (shaped like HL7's example).

    It names no patient: the practice knows its patient by the Task it sent.
    """
    return {
        "resourceType": "Communication",
        "id": communication_id,
        "status": "completed",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/communication-category",
            "code": "notification"}], "text": "Terugkoppeling van het Sociaal wijkteam"}],
        "partOf": [{"reference": f"Task/{task_id}"}],
        "about": [{"reference": f"Task/{task_id}"}],
        "sent": sent.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "sender": {"reference": "Organization/wijkteam", "display": "Sociaal wijkteam"},
        "payload": [{"contentString": summary[:MAX_SUMMARY]}],
    }


def transaction(task: dict[str, Any], task_identifier: str,
                comm: dict[str, Any] | None) -> dict[str, Any]:
    """A transaction Bundle that updates the practice's own Task, found by the identifier it
    gave it (a conditional update), and adds the Communication under the hub's identifier.

    Both are conditional PUTs, so sending the same Bundle twice changes nothing more.
    """
    # The practice's Task has an id of its own: a conditional update carries none.
    task = {k: v for k, v in task.items() if k not in ("id", "meta")}
    entries = [{"resource": task,
                "request": {"method": "PUT", "url": f"Task?identifier={quote(task_identifier)}"}}]
    if comm is not None:
        comm = {**comm, "identifier": [{"system": COMMUNICATION_SYSTEM, "value": comm["id"]}]}
        entries.append({"resource": comm, "request": {
            "method": "PUT",
            "url": f"Communication?identifier={quote(COMMUNICATION_SYSTEM + '|' + comm['id'])}"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
