"""What the consent engine may know of a message (its facts): no personal data.

Its own module so that the router, the inbox's re-check and triage share it
without importing one another (the router imports the outreach module, which
reads through the inbox).
"""

from __future__ import annotations

from consent.model import MessageFacts
from hub.core.message_rows import RoutedMessage
from hub.core.models import Message, Partner

RECIPIENT = "wijkteam"


def facts_for(message: Message | RoutedMessage, partner: Partner) -> MessageFacts:
    """What the consent engine may know of a message: no personal data."""
    return MessageFacts(type=message.type, category=message.category, source_partner=partner.id,
                        source_kind=partner.kind, source_name=partner.name, recipient=RECIPIENT)
