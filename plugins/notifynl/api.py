"""The regisseur's route to send the outreach (or consent) text through NotifyNL."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hub.plugin import (
    ContextDep,
    FieldProblem,
    HubProblem,
    IdPath,
    RegisseurDep,
    SessionDep,
    as_actor,
    invalid,
    is_mobile,
    outbound,
    outreach,
    record_event,
)
from plugins.notifynl import EMAIL, SMS, service_partner
from plugins.notifynl.config import NotifySettings
from plugins.notifynl.schemas import NotifyPublic, NotifyRequest
from plugins.notifynl.texts import render

router = APIRouter(prefix="/api/v1/outreach", tags=["outreach"])


@router.post("/{case_id}/notify", response_model=NotifyPublic, status_code=202, responses={
    200: {"model": NotifyPublic, "description": "A dry run: the text only, nothing sent."}})
def notify(case_id: IdPath, body: NotifyRequest, ctx: ContextDep, session: SessionDep,
           regisseur: RegisseurDep, response: Response) -> NotifyPublic:
    """Queue the outreach (or consent-request) text to the resident through NotifyNL.

    The number or address comes from the body or, without one, from the signals that
    may lawfully carry it. One text per case, purpose and channel: asking again
    returns the first. A case of another wijk is a 404 like a missing one.
    """
    now = ctx.clock()
    view = outreach.get_case(session=session, ctx=ctx, viewer=regisseur, case_id=case_id,
                             now=now)
    if view is None:
        raise HubProblem(404, "Outreach case not found")
    known = outreach.contact_of(ctx, view.case)
    personalisation = {"wijk": ctx.wijkmap.name(view.case.wijk)}
    if body.dry_run:
        # The text only (the demo, a regisseur checking first): nothing stored or sent.
        response.status_code = 200
        return NotifyPublic(outbound_id=None, status="preview", channel=body.channel,
                            purpose=body.purpose,
                            preview=render(body.purpose, body.channel, personalisation))
    data: dict[str, object] = {}
    if body.channel == "sms":
        phone = body.phone or known.get("phone")
        if not phone:
            raise invalid("phone", "er is geen telefoonnummer bekend; vul het in")
        if not is_mobile(phone):
            raise invalid("phone", "is geen mobiel nummer; een sms kan er niet heen")
        data["phone_number"], message_type = phone, SMS
    else:
        email = body.email or known.get("email")
        if not email:
            raise invalid("email", "er is geen e-mailadres bekend; vul het in")
        data["email_address"], message_type = email, EMAIL
    settings = NotifySettings()
    template = settings.template(body.purpose, body.channel)
    if template is None:
        raise HubProblem(409, "No NotifyNL template configured", [FieldProblem(
            "channel", f"voor {body.channel} is geen sjabloon ingesteld "
            f"(HUB_NOTIFYNL_TEMPLATE_{body.purpose.upper()}_{body.channel.upper()})")])
    data.update({"template_id": template, "personalisation": personalisation,
                 "reference": view.case.id, "purpose": body.purpose})
    service = service_partner(session, settings=settings, now=now)
    row = outbound.send(session, ctx=ctx, partner_id=service.id, message_type=message_type,
                        data=data, ref=f"{view.case.id}:{body.purpose}:{body.channel}",
                        now=now, subject=view.case.subject,
                        household_id=view.case.household_id, **as_actor(regisseur))
    record_event(session, ctx=ctx, action="outreach.notified", subject=view.case.subject,
                 data={"case_id": view.case.id, "outbound_id": row.id,
                       "channel": body.channel, "purpose": body.purpose},
                 **as_actor(regisseur))
    public = NotifyPublic(outbound_id=row.id, status=row.status, channel=body.channel,
                          purpose=body.purpose,
                          preview=render(body.purpose, body.channel, personalisation))
    session.commit()
    return public
