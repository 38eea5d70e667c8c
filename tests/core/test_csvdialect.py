"""CSV as Dutch offices export it: separator, header, BOM and decimal comma (issue 15, item 5)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.core.csvdialect import csv_amount, detect_separator, match_header
from hub.core.models import Message
from tests.api.test_batch import ANNA, BOB, HEADER, _assert_problem, _send, _stored
from tests.utils.builders import partner, register

EXPECTED = ("source_ref", "name", "amount_eur")


@pytest.mark.parametrize(("line", "separator"), [
    ("\ufeffSource_ref;Name;Amount_eur", ";"), ("a,b,c", ","), ("a\tb\tc", "\t"),
    ("a;b,c;d", ";"), ("one", ","),
])
def test_the_separator_is_judged_by_the_header_line(line, separator):
    assert detect_separator(line) == separator


def test_header_names_ignore_case_spaces_and_bom():
    assert match_header(["\ufeffSOURCE_REF", " Name ", "Amount eur"], EXPECTED) == EXPECTED


@pytest.mark.parametrize(("found", "why"), [
    (["source_ref", "name"], "missing column(s) amount_eur"),
    (["source_ref", "naam", "amount_eur"], "unknown column 2 (expected name there)"),
    (["name", "source_ref", "amount_eur"], "the columns are in another order"),
    (["source_ref", "name", "amount_eur", "x"], "unknown column 4"),
])
def test_a_refusal_says_what_differs_never_the_cell(found, why):
    with pytest.raises(ValueError) as refused:
        match_header(found, EXPECTED)
    assert why in str(refused.value) and "source_ref,name,amount_eur" in str(refused.value)
    assert "naam" not in str(refused.value)  # a first line of data would be echoed otherwise


@pytest.mark.parametrize(("cell", "amount"), [
    ("98,10", "98.10"), ("1.250,00", "1250.00"), ("€ 98,10", "98.10"), ("98.10", "98.10"),
    ("1.250", "1.250"),  # no decimal comma: not guessed (1.25 the English way?)
    ("1,250.00", "1,250.00"), ("veel", "veel"),
])
def test_a_decimal_comma_is_read_and_nothing_else_guessed(cell, amount):
    assert csv_amount(cell) == amount


def test_a_dutch_export_is_imported_as_a_batch(ctx, client):
    register(ctx, ANNA, BOB)
    _, woonbron = partner(ctx)
    header = ";".join(h.capitalize() for h in HEADER.split(","))
    lines = [f"R-1;{ANNA.name};;{ANNA.postcode};{ANNA.huisnummer};;98,10;3;2026-08-01;HC-1",
             f"R-2;{BOB.name};{BOB.birthdate};{BOB.postcode};{BOB.huisnummer};{BOB.bsn};"
             "1.250,00;2;2026-09-01;HC-2"]
    body = ("\ufeff" + "\r\n".join([header, *lines]) + "\r\n").encode()
    answer = _send(client, body, woonbron)
    assert answer.status_code == 202, answer.text
    report = client.get(f"/api/v1/batches/{answer.json()['batch_id']}", headers=woonbron).json()
    assert (report["accepted"], report["rejected"]) == (2, 0), report
    with ctx.sessions() as session:
        amounts = sorted(ctx.cipher.open(m.payload_sealed, context=f"message:{m.id}")
                         ["data"]["amount_eur"] for m in session.scalars(select(Message)))
    assert amounts == ["1250.00", "98.10"]


def test_a_batch_header_in_another_order_is_refused_saying_so(ctx, client):
    _, woonbron = partner(ctx)
    names = HEADER.split(",")
    body = (",".join([names[1], names[0], *names[2:]]) + "\n").encode()
    problem = _assert_problem(_send(client, body, woonbron), 422, "header")
    assert "another order" in problem["detail"] and HEADER in problem["detail"]
    assert _stored(ctx) == (0, 0, 0)
