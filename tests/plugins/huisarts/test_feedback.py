"""Which consent lets the closing summary go back to the practice; what goes back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication

from consent.model import ConsentGrant
from plugins.huisarts.feedback import communication, shares_back, transaction
from tests.plugins.huisarts.fhirdata import CONFORMANCE

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def grant(**change) -> ConsentGrant:
    fields = dict(id="c-1", subject="s", recipient="wijkteam", source_kinds={"huisarts"},
                  source_partners=set(), categories={"medisch"},
                  purpose="Terugkoppeling aan mijn huisarts over de verwijzing",
                  valid_from=NOW - timedelta(days=1), valid_until=None, revoked_at=None,
                  granted_at=NOW - timedelta(days=1))
    fields.update(change)
    return ConsentGrant(**fields)


def test_only_an_active_terugkoppeling_consent_for_this_practice_shares_back():
    assert shares_back([grant()], partner_id="p-1", now=NOW)
    assert shares_back([grant(source_kinds=set(), source_partners={"p-1"})], partner_id="p-1",
                       now=NOW)
    refused = [
        grant(purpose="ondersteuning door het wijkteam"),       # the consent request's own
        grant(source_kinds=set(), source_partners={"p-2"}),     # another practice
        grant(source_kinds={"woningcorporatie"}),               # another kind
        grant(categories={"wonen"}),                            # not the medical category
        grant(revoked_at=NOW - timedelta(hours=1)),             # revoked
        grant(valid_until=NOW - timedelta(hours=1)),            # expired
    ]
    for consent in refused:
        assert not shares_back([consent], partner_id="p-1", now=NOW), consent
    assert not shares_back([], partner_id="p-1", now=NOW)


def test_the_summary_goes_back_as_a_communication_shaped_like_hl7s_example():
    hl7 = Communication.model_validate(json.loads(
        (CONFORMANCE / "communication-example.json").read_text()))
    ours = Communication.model_validate(communication(
        communication_id="c-9", task_id="t-1", summary="Budgetcoach gestart.", sent=NOW))
    assert ours.status == hl7.status == "completed"
    assert ours.payload[0].contentString == "Budgetcoach gestart."
    assert ours.partOf[0].reference == "Task/t-1"
    assert ours.subject is None  # no patient named: the Task says whom it is about


def test_the_notification_updates_the_practices_own_task_by_its_identifier():
    task = {"resourceType": "Task", "id": "hub-id", "meta": {"versionId": "5"},
            "status": "completed", "intent": "order",
            "identifier": [{"system": "urn:his", "value": "HIS 7"}]}
    comm = communication(communication_id="c-9", task_id="hub-id", summary="Klaar.", sent=NOW)
    bundle = Bundle.model_validate(transaction(task, "urn:his|HIS 7", comm))
    first, second = bundle.entry
    assert first.request.method == "PUT"
    assert first.request.url == "Task?identifier=urn%3Ahis%7CHIS%207"
    assert first.resource.id is None
    assert second.request.url.startswith("Communication?identifier=")
    assert transaction(task, "urn:his|HIS 7", None)["entry"][0]["resource"]["status"] == \
        "completed"
