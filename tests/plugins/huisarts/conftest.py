"""Fixtures for the GP plugin: a practice partner, the nl-core Patient as a resident."""

from __future__ import annotations

import pytest

from hub.core.context import HubContext
from hub.core.models import Partner
from tests.plugins.huisarts.fhirdata import NL_CORE_BSN
from tests.utils.builders import Person, partner, register


@pytest.fixture
def practice(ctx: HubContext) -> tuple[str, dict[str, str]]:
    """A GP practice (kind huisarts) with its FHIR base; its id and Authorization header."""
    pid, headers = partner(ctx, name="Huisartsenpraktijk Krispijn", kind="huisarts")
    with ctx.sessions() as session, session.begin():
        session.get(Partner, pid).endpoint = "https://praktijk.example/fhir"
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
