"""GP practices and their POH (GGz), over FHIR R4: referrals both ways, status back.

- A GP or POH refers a patient to the Sociaal wijkteam (``referral.gp``, category
  medisch) through the hub's FHIR endpoint (:mod:`plugins.huisarts.api`). It goes
  through the core's ingest like any message; no statute lets medical
  information through, so it is held until the resident consents.
- The Task the GP sent follows what happens (:mod:`plugins.huisarts.tasks`), and the
  practice's FHIR server is told each step (``referral.status``).
- The regisseur refers a resident to the practice's POH (``referral.poh``).

The FHIR mapping for integrators is in ``docs/huisarts-fhir.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub import hookimpl
from hub.core.types import MessageType
from plugins.huisarts import models  # noqa: F401  (the plugin's table, on the hub's metadata)
from plugins.huisarts.schemas import GpReferral

KIND = "huisarts"
_URGENCY = {"routine": "", "urgent": " (dringend)", "asap": " (zo snel mogelijk)",
            "stat": " (direct)"}


def _referral_summary(data: Mapping[str, Any]) -> str:
    # The regisseur reads this: plain Dutch.
    return "Verwijzing van de huisarts" + _URGENCY.get(str(data.get("urgency")), "")


@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """``referral.gp``: a GP practice refers a patient to the wijkteam (medical, consent only)."""
    return [
        MessageType(
            name="referral.gp",
            partner_kinds=(KIND,),
            category="medisch",
            data_model=GpReferral,
            topic="verwijzing van de huisarts",
            summary=_referral_summary,
        ),
    ]
