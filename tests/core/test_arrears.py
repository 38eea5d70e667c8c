"""The shared arrears shape (hub.core.arrears): one door for all four fixed-cost partners."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import plugins.energie
import plugins.evides
import plugins.fixedcosts
import plugins.woningcorporatie
from hub.core.arrears import ArrearsData, ArrearsKind, ArrearsSignal, CreditorContact
from tests.utils.builders import arrears, partner, person

ADDRESS = {"postcode": "3317 AB", "huisnummer": "12"}
BASE = {"amount_eur": "10", "months": 1, "since": "2026-01-01", "address": ADDRESS}


@pytest.mark.parametrize(("given", "stored"), [
    ("06 12345678", "+31612345678"),
    ("+31 (0)78 123 4567", "+31781234567"),
    ("0032 470 12 34 56", "+32470123456"),  # a Belgian mobile with its country code
])
def test_phone_numbers_are_checked_and_stored_in_e164(given, stored):
    assert ArrearsData.model_validate({**BASE, "phone": given}).phone == stored


@pytest.mark.parametrize("given", ["0612", "12345678901234", "bel maar", "+99 123"])
def test_a_wrong_phone_number_is_refused_with_the_reason_not_the_value(given):
    with pytest.raises(ValidationError) as raised:
        ArrearsData.model_validate({**BASE, "phone": given})
    (error,) = raised.value.errors(include_input=False)
    assert error["loc"] == ("phone",) and "phone number" in error["msg"]
    assert given not in error["msg"]


@pytest.mark.parametrize("given", ["a@b", "anna@@example.nl", "anna example.nl", "@example.nl"])
def test_a_wrong_e_mail_address_is_refused(given):
    with pytest.raises(ValidationError) as raised:
        CreditorContact.model_validate({"email": given})
    (error,) = raised.value.errors(include_input=False)
    assert error["loc"] == ("email",) and "e-mail address" in error["msg"]


def test_the_creditors_contact_on_rent_arrears_is_checked_at_the_door(ctx, client):
    # Before the shared core a housing corporation's contact phone was any text.
    _, woonbron = partner(ctx)
    r = client.post("/api/v1/messages", headers=woonbron, json=arrears(
        person(1), ref="R-1", contact={"name": "Incasso", "phone": "ring ring"}))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["data.contact.phone"]
    assert "ring ring" not in r.text


def test_a_filled_deadline_column_makes_the_line_the_urgent_notice():
    kind = plugins.energie.ENERGY
    row = dict.fromkeys(kind.csv_header, "")
    row.update(source_ref="1", name="A", postcode="3317AB", huisnummer="1", amount_eur="1",
               months="1", since="2026-01-01", customer_ref="K")
    assert kind.row_to_message(row)["type"] == "signal.arrears.energy"
    row["end_of_supply_date"] = "2027-01-01"
    message = kind.row_to_message(row)
    assert message["type"] == "signal.end_of_supply.energy"
    assert message["data"]["end_of_supply_date"] == "2027-01-01"


def test_the_first_signal_of_a_kind_cannot_have_a_deadline():
    with pytest.raises(ValueError, match="first signal"):
        ArrearsKind(kind="x", reference="ref", signals=(
            ArrearsSignal(type="signal.x", title="X", topic="x", deadline="on"),))


@pytest.mark.parametrize("kind", [plugins.woningcorporatie.RENT, plugins.evides.WATER,
                                  plugins.energie.ENERGY, *plugins.fixedcosts.KINDS],
                         ids=lambda k: k.kind)
def test_every_field_of_the_four_partners_has_a_dutch_label(kind):
    assert set(kind.fields) <= set(kind.all_labels)
    for signal in kind.signals:
        assert set(kind.models[signal.type].model_fields) <= set(kind.all_labels)
