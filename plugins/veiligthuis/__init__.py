"""Veilig Thuis: safety reports to the household's designated regisseur, and back.

Inbound, ``safety.report`` (a hand-over or a request after a report about
domestic violence or child abuse) reaches the wijkteam on the policy file's
safety basis (meldrecht). Because its type has a safety basis the core treats
it as confidential: it goes to the household's *designated* regisseur only,
its content is opened only with a reason, and the policy may keep it out of
the resident's overview (see docs/veiligthuis.md). This plugin only describes
the message; the core does the addressing, auditing and withholding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub import hookimpl
from hub.core.types import MessageType
from plugins.veiligthuis.schemas import SafetyReport

KIND = "veiligthuis"
_KIND_NL = {"handover": "Overdracht", "request": "Verzoek"}
_CONCERN_NL = {"domestic_violence": "huiselijk geweld", "child_abuse": "kindermishandeling",
               "elder_abuse": "ouderenmishandeling"}


def _summary(data: Mapping[str, Any]) -> str:
    # Shown only to the one who opened the report with a reason; lists show a neutral line.
    kind = _KIND_NL.get(data.get("kind", ""), "Melding")
    concern = _CONCERN_NL.get(data.get("concern", ""))
    return f"{kind} van Veilig Thuis" + (f" over {concern}" if concern else "")


@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """``safety.report``, sent by Veilig Thuis to the household's designated regisseur."""
    return [
        MessageType(
            name="safety.report",
            partner_kinds=(KIND,),
            category="veiligheid",
            data_model=SafetyReport,
            topic="veiligheid",
            summary=_summary,
        ),
    ]
