"""What the hub asks NotifyNL to send: a template id and the template's fields, nothing more."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.plugin import Email, Phone

_UUID = r"^[0-9a-fA-F-]{36}$"


class _Notification(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template_id: str = Field(pattern=_UUID)
    # Only the template's own fields (the wijk's name): never a name, an amount or a reason.
    personalisation: dict[str, str] = Field(default_factory=dict, max_length=10)
    reference: str = Field(min_length=1, max_length=100)
    purpose: Literal["outreach", "consent"]


class SmsNotification(_Notification):
    """``notify.sms``: one text message through NotifyNL."""

    phone_number: Phone


class EmailNotification(_Notification):
    """``notify.email``: one e-mail through NotifyNL."""

    email_address: Email


class NotifyRequest(BaseModel):
    """What the regisseur asks: send the outreach (or consent) text over a channel.

    Without ``phone``/``email`` the lawful contact details from the signals are used.
    """

    model_config = ConfigDict(extra="forbid")
    channel: Literal["sms", "email"]
    purpose: Literal["outreach", "consent"] = "outreach"
    phone: Phone | None = Field(default=None, description="A mobile number, for an sms.")
    email: Email | None = Field(default=None, description="An e-mail address.")
    dry_run: bool = Field(default=False, description="Only show the text the resident would "
                                                     "read; send and store nothing.")


class NotifyPublic(BaseModel):
    """The queued notification: its outbound id, where it stands, and the text it sends."""

    outbound_id: str | None = Field(description="None for a dry run.")
    status: Literal["queued", "delivered", "failed", "preview"]
    channel: Literal["sms", "email"]
    purpose: Literal["outreach", "consent"]
    preview: str = Field(description="The text the resident will read (our template copy).")
