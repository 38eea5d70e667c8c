"""Fixtures for the GP plugin: a practice with its own FHIR server (respx), the nl-core
Patient as a resident."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx

from hub.core.context import HubContext
from hub.core.models import Partner
from tests.plugins.huisarts.fhirdata import NL_CORE_BSN
from tests.utils.builders import Person, partner, register

PRACTICE_FHIR = "https://praktijk.example/fhir"


def transaction_response(request: httpx.Request) -> httpx.Response:
    """What a FHIR server answers to a transaction: one response per entry."""
    bundle = json.loads(request.content)
    entries = []
    for i, entry in enumerate(bundle.get("entry", [])):
        kind = entry["resource"]["resourceType"]
        entries.append({"response": {"status": "200 OK",
                                     "location": f"{kind}/gp-{i}/_history/1"}})
    return httpx.Response(200, json={"resourceType": "Bundle", "type": "transaction-response",
                                     "entry": entries})


@pytest.fixture
def practice_server() -> Iterator[respx.MockRouter]:
    """The practice's own FHIR server: answers transactions; tests add or replace routes."""
    with respx.mock(assert_all_called=False) as server:
        server.post(PRACTICE_FHIR, name="transaction").mock(side_effect=transaction_response)
        yield server


@pytest.fixture
def practice(ctx: HubContext, practice_server) -> tuple[str, dict[str, str]]:
    """A GP practice (kind huisarts) with its FHIR base; its id and Authorization header."""
    pid, headers = partner(ctx, name="Huisartsenpraktijk Krispijn", kind="huisarts")
    with ctx.sessions() as session, session.begin():
        session.get(Partner, pid).endpoint = PRACTICE_FHIR
    return pid, headers


@pytest.fixture
def patient_resident(ctx: HubContext) -> Person:
    """The resident the nl-core Patient example is about (BSN 111222333), in Krispijn."""
    who = Person(bsn=NL_CORE_BSN, name="Johanna Petronella Maria van Putten",
                 birthdate="1934-04-28", postcode="3317AB", huisnummer="7")
    register(ctx, who)
    return who


@pytest.fixture
def fhir(client):
    """The test client of the hub (the plugin's routes come in through wijkhub_routers)."""
    return client
