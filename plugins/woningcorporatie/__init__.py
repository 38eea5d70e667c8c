"""Housing corporations (e.g. Woonbron): rent arrears and nuisance signals.

Rent arrears may reach the wijkteam without consent, minimised, on the
statutory basis of early debt signalling; nuisance only with consent. Which
basis applies is the policy file's to say, not this plugin's. The arrears
shape, its CSV line and its summary are the core's (``hub.plugin.ArrearsKind``).
"""

from __future__ import annotations

from hub.plugin import ArrearsKind, ArrearsSignal, CsvFormat, MessageType, hookimpl
from plugins.woningcorporatie.schemas import NUISANCE_LABELS, Nuisance

KIND = "woningcorporatie"
RENT = ArrearsKind(
    kind=KIND,
    reference="tenancy_ref",
    signals=(ArrearsSignal(type="signal.arrears.rent", title="Huurachterstand",
                           topic="huurachterstand"),),
    labels={"tenancy_ref": "nummer van het huurcontract"},
    # The monthly export was published without contact columns; a single JSON
    # message may still carry them.
    contact_columns=False,
)
#: Dutch labels for every field this plugin's messages expose.
LABELS = {**RENT.all_labels, **NUISANCE_LABELS}


@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """Rent arrears and nuisance, sent by housing corporations."""
    return [
        *RENT.message_types(),
        MessageType(
            name="signal.nuisance",
            partner_kinds=(KIND,),
            category="wonen",
            data_model=Nuisance, labels=LABELS,
            topic="woonoverlast",
            summary=lambda data: "Melding van woonoverlast",
        ),
    ]


@hookimpl
def wijkhub_csv_formats() -> list[CsvFormat]:
    """The monthly arrears export: one line per tenant in arrears."""
    return RENT.csv_formats()


@hookimpl
def wijkhub_plan_partner_kinds() -> list[str]:
    """A corporation takes part in household plans (a payment plan for the arrears, issue 17)."""
    return [KIND]
