"""From the core's events to the GP's Task, and the notification that tells the practice.

:func:`on_item_status` is what the plugin's ``wijkhub_item_status_changed`` does
for a ``referral.gp``: move the Task (table ``huisarts_tasks``) and return the
``referral.status`` message for the practice. :func:`status_request` builds the
HTTP request the worker sends for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.plugin import ItemStatusEvent, OutboundEnvelope, OutboundMessage, OutboundRequest
from plugins.huisarts import feedback, tasks
from plugins.huisarts.models import ReferralTask
from plugins.huisarts.referral import OWNER_REFERENCE

if TYPE_CHECKING:
    import httpx

# core event -> the Task states it passes, in order (the last is where it lands)
STEPS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "held": (("received", None),),
    "delivered": (("received", None),),
    "refused": (("rejected", tasks.REASON_NO_CONSENT),),
    "taken_up": (("accepted", None), ("in-progress", None)),
}


def steps_for(event: ItemStatusEvent, *, taken_up: bool) -> tuple[tuple[str, str | None], ...]:
    """The Task states an event passes through; ``taken_up`` says whether help had started."""
    if event.status == "closed":
        return (("completed", None),) if taken_up else (("rejected", tasks.REASON_NOT_TAKEN_UP),)
    return STEPS.get(event.status, ())


def _transient(event: ItemStatusEvent, now: datetime) -> ReferralTask:
    # The Task as the event alone describes it, when the plugin holds no row for it
    # (a referral.gp sent as plain JSON, or a table row lost): enough to notify.
    requester = (event.data or {}).get("requester") or {}
    return ReferralTask(id=tasks.task_id_for(event.message_id), direction="in",
                        partner_id=event.source_partner.id, message_id=event.message_id,
                        service_request_id=tasks.service_request_id_for(event.message_id),
                        identifier=None, status="requested",
                        requester=requester.get("reference") or requester.get("identifier"),
                        owner=OWNER_REFERENCE, version=1, authored_at=now, last_updated=now)


def on_item_status(event: ItemStatusEvent, *, task: ReferralTask | None, now: datetime,
                   consents: list[Any]) -> list[OutboundMessage]:
    """Move the GP's Task for this event; the notification for the practice, if it moved.

    ``task`` is the plugin's row (changed in place, in the caller's transaction) or
    None; ``consents`` the resident's active consents, read only when the event is
    a close with a summary (sharing back needs a consent, see :mod:`feedback`).
    """
    if task is None:
        task = _transient(event, now)
    taken_up = task.status in ("accepted", "in-progress")
    moved = None
    for status, reason in steps_for(event, taken_up=taken_up):
        moved = tasks.move(task=task, status=status, now=now, reason=reason) or moved
    if moved is None:
        return []
    comm = None
    summary = (event.note or "").strip()
    if moved.status == "completed" and summary and feedback.shares_back(
            consents, partner_id=event.source_partner.id, now=now):
        comm = feedback.communication(communication_id=tasks.task_id_for(
            f"communication:{event.message_id}"), task_id=task.id, summary=summary, sent=now)
        task.communication_id = comm["id"]
        task.shared_back = True
    elif moved.status == "completed":
        task.shared_back = False
    # The GP's identifier comes from the event (the message's sealed source_ref).
    identifier = event.source_ref or task.identifier
    data = {"task_id": task.id, "status": moved.status,
            "task": tasks.to_fhir(task, identifier=identifier),
            "task_identifier": identifier, "communication": comm}
    return [OutboundMessage(partner_id=event.source_partner.id, message_type="referral.status",
                            data=data, ref=f"{task.id}:v{moved.version}")]


def status_request(envelope: OutboundEnvelope) -> OutboundRequest:
    """The transaction Bundle that brings the practice's Task up to date (idempotent)."""
    data = envelope.data
    bundle = feedback.transaction(data["task"], data["task_identifier"],
                                  data.get("communication"))
    return OutboundRequest(method="POST", path="", json=bundle,
                           headers={"Content-Type": "application/fhir+json",
                                    "Accept": "application/fhir+json"},
                           receipt=_receipt)


def _receipt(response: httpx.Response) -> str | None:
    try:
        for entry in response.json().get("entry") or []:
            location = (entry.get("response") or {}).get("location") or ""
            if location.startswith("Task/"):
                return location[:200]
    except (ValueError, AttributeError, TypeError):
        return None
    return None
