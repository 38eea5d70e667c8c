"""NotifyNL: the outreach text message or e-mail to a resident, and the consent request.

NotifyNL is the Dutch government's notification service, built on GOV.UK Notify.
The regisseur asks for a text (``POST /api/v1/outreach/{id}/notify``); the plugin
stores it as an outbound message to the NotifyNL service through the core
(``hub.core.outbound``: sealed, queued, retried, dead-lettered like any partner
delivery) and shapes each attempt as NotifyNL's ``POST /v2/notifications/sms`` or
``/email``: the template id, the template's fields and our reference, nothing else.

``notifications-python-client`` does its own blocking ``requests`` calls, so it is
used only to read the API key and sign the JWT (``create_jwt_token``); httpx in the
outbound core sends. Settings are ``HUB_NOTIFYNL_*`` (``plugins.notifynl.config``).
The contact details travel sealed in the outbound message and are never logged.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.plugin import (
    MessageType,
    OutboundEnvelope,
    OutboundRequest,
    Partner,
    PartnerInfo,
    PermanentDeliveryError,
    hookimpl,
)
from plugins.notifynl.config import NotifySettings
from plugins.notifynl.schemas import EmailNotification, SmsNotification

KIND = "notifynl"
SERVICE_NAME = "NotifyNL"
SMS, EMAIL = "notify.sms", "notify.email"
_PATHS = {SMS: "/v2/notifications/sms", EMAIL: "/v2/notifications/email"}
#: Dutch words for every field of the two types (residents read them in "who received what").
LABELS = {"template_id": "sjabloon", "personalisation": "gegevens in de tekst",
          "reference": "kenmerk", "purpose": "doel", "phone_number": "mobiel nummer",
          "email_address": "e-mailadres"}


@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """Text messages and e-mails to residents, sent to the NotifyNL service (outbound only)."""
    return [
        MessageType(name=SMS, partner_kinds=(KIND,), category="financieel",
                    data_model=SmsNotification, topic="een sms van het wijkteam", labels=LABELS,
                    inbound=False, outbound=True),
        MessageType(name=EMAIL, partner_kinds=(KIND,), category="financieel",
                    data_model=EmailNotification, topic="een e-mail van het wijkteam",
                    labels=LABELS,
                    inbound=False, outbound=True),
    ]


@hookimpl
def wijkhub_routers() -> list:
    """``POST /api/v1/outreach/{case_id}/notify``: the regisseur sends the outreach text."""
    from plugins.notifynl.api import router

    return [router]


def authorization(settings: NotifySettings) -> str:
    """The ``Authorization`` header NotifyNL expects: a fresh JWT signed with the API key."""
    if settings.api_key is None:
        raise PermanentDeliveryError("HUB_NOTIFYNL_API_KEY is not set")
    # The client parses the key into service id and secret; it makes no request here.
    # Imported here: it loads ``requests``, which only a delivery to NotifyNL needs.
    from notifications_python_client.authentication import create_jwt_token
    from notifications_python_client.base import BaseAPIClient

    client = BaseAPIClient(settings.api_key.get_secret_value(), base_url=settings.base_url)
    return f"Bearer {create_jwt_token(client.api_key, client.service_id)}"


@hookimpl
def wijkhub_outbound_request(envelope: OutboundEnvelope,
                             partner: PartnerInfo) -> OutboundRequest | None:
    """NotifyNL's own request: the template id, its fields and our reference only."""
    if partner.kind != KIND or envelope.type not in _PATHS:
        return None
    data = dict(envelope.data)
    body = {"template_id": data["template_id"], "personalisation": data["personalisation"],
            "reference": data["reference"]}
    if envelope.type == SMS:
        body["phone_number"] = data["phone_number"]
    else:
        body["email_address"] = data["email_address"]
    return OutboundRequest(method="POST", path=_PATHS[envelope.type], json=body,
                           headers={"Authorization": authorization(NotifySettings())})


def service_partner(session: Session, *, settings: NotifySettings, now: datetime) -> Partner:
    """The NotifyNL service as the outbound core's receiving partner, at the configured URL.

    Made on first use and kept at ``HUB_NOTIFYNL_BASE_URL``; it has no API key, so it
    can never send anything to the hub.
    """
    row = session.scalar(select(Partner).where(Partner.kind == KIND).limit(1))
    if row is None:
        row = Partner(id=str(uuid.uuid4()), name=SERVICE_NAME, kind=KIND,
                      endpoint=settings.base_url, active=True, created_at=now)
        session.add(row)
        session.flush()
    elif row.endpoint != settings.base_url:
        row.endpoint = settings.base_url
    return row
