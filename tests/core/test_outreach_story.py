"""Issue 16's story: four one household, one outreach case, to the monitor.

The energy supplier and the health insurer are the real plugins (``energie`` and
the ``zorgverzekeraar`` kind file); rent and water are the built-in woningcorporatie
and Evides plugins. NotifyNL and Evides' endpoint are respx.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import jwt
import pytest
import respx

from hub.cli import main
from hub.core.monitor import monthly_counts, parse_month
from tests.plugins.evides.test_evides import water
from tests.utils.builders import arrears, partner, person, regisseur, register, resident
from tests.utils.outreach import ENERGY, HEALTH, creditor_signal

NOTIFY = "https://notify.test"
SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
EVIDES = "https://api.evides.example/wijkhub"
ANNA = person(41, name="Anna de Vries")
OTHERS = [person(50 + i) for i in range(5)]
DECEMBER = [person(60 + i) for i in range(3)]


@pytest.fixture
def notifynl(monkeypatch):
    """NotifyNL's settings pointing at the respx stand-in."""
    monkeypatch.setenv("HUB_NOTIFYNL_BASE_URL", NOTIFY)
    monkeypatch.setenv("HUB_NOTIFYNL_API_KEY", f"wijkhub_test-{SERVICE_ID}-{SECRET}")
    monkeypatch.setenv("HUB_NOTIFYNL_TEMPLATE_OUTREACH_SMS", TEMPLATE)


def _send(client, body, headers) -> str:
    r = client.post("/api/v1/messages", json=body, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _monitor(ctx, monkeypatch, capsys, month: str) -> dict[tuple[str, str], dict]:
    monkeypatch.setenv("HUB_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("HUB_DATABASE_URL", ctx.settings.effective_database_url)
    if ctx.settings.policy_file is not None:
        monkeypatch.setenv("HUB_POLICY_FILE", str(ctx.settings.policy_file))
    capsys.readouterr()
    assert main(["monitor", "export", "--month", month, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    return {(r["wijk"], r["partner_kind"]): r for r in out["rows"]}


@respx.mock
def test_four_creditors_one_case_one_sms_two_attempts_closed_and_counted(
        ctx, client, worker, clock, notifynl, monkeypatch, capsys):
    sms = respx.post(f"{NOTIFY}/v2/notifications/sms").mock(
        return_value=httpx.Response(201, json={"id": "notify-1"}))
    feedback = respx.post(url__startswith=EVIDES).mock(return_value=httpx.Response(200))
    register(ctx, ANNA, *OTHERS, *DECEMBER)
    _, woonbron = partner(ctx, "Woonbron")
    _, evides = partner(ctx, "Evides", kind="evides", endpoint=EVIDES)
    _, eneco = partner(ctx, "Eneco", kind="energie")
    _, zilveren = partner(ctx, "Zilveren Kruis", kind="zorgverzekeraar")

    # All four partner kinds signal about Anna's household within a week.
    opened = clock.now
    sent = {"woningcorporatie": (_send(client, arrears(ANNA, ref="R-1"), woonbron), woonbron)}
    worker.drain()
    clock.advance(days=1)
    sent["evides"] = (_send(client, water(ANNA, ref="W-1"), evides), evides)
    clock.advance(days=1)
    sent["energie"] = (_send(client, creditor_signal(
        ANNA, type_=ENERGY, ref="E-1", phone="06 12345678"), eneco),
        eneco)
    clock.advance(days=1)
    sent["zorgverzekeraar"] = (_send(client, creditor_signal(ANNA, type_=HEALTH, ref="Z-1"),
                                     zilveren), zilveren)
    for i, other in enumerate(OTHERS):
        _send(client, arrears(other, ref=f"R-O{i}"), woonbron)
    worker.drain()

    # The wijkteam sees one case for Anna with four linked signals, due on the policy's date.
    page = client.get("/api/v1/outreach", headers=regisseur(ctx)).json()
    assert page["total"] == 6
    (case,) = [c for c in page["items"] if len(c["signals"]) == 4]
    assert page["items"][0]["id"] == case["id"]  # the most partners and the highest amount
    assert sorted(case["partner_kinds"]) == sorted(sent)
    assert {s["item_id"] for s in case["signals"]} == \
        {i["id"] for i in client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["items"]
         if i["household_id"] == case["household_id"]}
    assert datetime.fromisoformat(case["due_at"]) == opened + timedelta(days=5)
    assert case["has_phone"] is True and "12345678" not in json.dumps(case)

    # One NotifyNL SMS: the template id and its field, nothing else about Anna.
    r = client.post(f"/api/v1/outreach/{case['id']}/notify", json={"channel": "sms"},
                    headers=regisseur(ctx))
    assert r.status_code == 202, r.text
    assert "wijkteam Krispijn" in r.json()["preview"]
    worker.drain()
    assert sms.call_count == 1
    request = sms.calls[0].request
    assert json.loads(request.read()) == {
        "phone_number": "+31612345678", "template_id": TEMPLATE,
        "personalisation": {"wijk": "Krispijn"}, "reference": case["id"]}
    token = request.headers["authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["iss"] == SERVICE_ID

    # Two attempts; at the second the resident accepts help; the case closes.
    clock.advance(days=1)
    r = client.post(f"/api/v1/outreach/{case['id']}/attempts", headers=regisseur(ctx), json={
        "kind": "phone", "result": "not_reached", "attempted_on": clock.now.date().isoformat()})
    assert r.status_code == 201, r.text
    clock.advance(days=1)
    r = client.post(f"/api/v1/outreach/{case['id']}/attempts", headers=regisseur(ctx), json={
        "kind": "home_visit", "result": "help_accepted",
        "attempted_on": clock.now.date().isoformat()})
    assert [a["text"] for a in r.json()["attempts"]] == \
        ["telefoon: niet bereikt", "huisbezoek: hulpaanbod aanvaard"]
    r = client.post(f"/api/v1/outreach/{case['id']}/close", headers=regisseur(ctx),
                    json={"outcome": "help_accepted"})
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    worker.drain()

    # Each partner hears only what it hears today: closed (after taken_up).
    for message_id, headers in sent.values():
        assert client.get(f"/api/v1/messages/{message_id}",
                          headers=headers).json()["status"] == "closed"
    assert [json.loads(c.request.read())["status"] for c in feedback.calls] == \
        ["taken_up", "closed"]

    # The resident sees what was tried, and why, in plain Dutch.
    (mine,) = client.get("/api/v1/me/outreach", headers=resident(ctx, ANNA)).json()
    assert "Woonbron" in mine["why"] and "Eneco" in mine["why"]
    assert [a["text"] for a in mine["attempts"]] == [
        "Op 27 november 2026 belde het wijkteam u. We hebben u niet bereikt.",
        "Op 28 november 2026 kwam iemand van het wijkteam bij u langs. U wilde hulp. "
        "Het wijkteam helpt u verder."]

    # December: three more households signalled.
    clock.advance(days=8)
    for i, other in enumerate(DECEMBER):
        _send(client, arrears(other, ref=f"R-D{i}"), woonbron)
    worker.drain()

    november = _monitor(ctx, monkeypatch, capsys, "2026-11")
    everyone = november[("krispijn", "alle")]
    assert (everyone["signals_received"], everyone["households"],
            everyone["households_first_signal"]) == (9, 6, 6)
    assert everyone["households_combined_signals"] == "<5"  # Anna's only
    assert everyone["attempts_phone"] == "<5" and everyone["attempts_letter"] == "<5"
    assert everyone["households_help_accepted"] == "<5"
    assert everyone["median_days_to_first_attempt"] == "<5"
    rent = november[("krispijn", "woningcorporatie")]
    assert (rent["signals_received"], rent["households"]) == (6, 6)
    assert november[("krispijn", "evides")]["signals_received"] == "<5"

    # Behind the "<5": the counts the story made (never published like this).
    with ctx.sessions() as session:
        raw = {r["partner_kind"]: r for r in monthly_counts(
            session=session, month=parse_month("2026-11")) if r["wijk"] == "krispijn"}
    assert {k: raw["alle"][k] for k in (
        "households_combined_signals", "attempts_phone", "attempts_home_visit",
        "households_reached", "households_help_accepted", "households_referred_debt_help",
        "median_days_to_first_attempt")} == {
        "households_combined_signals": 1, "attempts_phone": 1, "attempts_home_visit": 1,
        "households_reached": 1, "households_help_accepted": 1,
        "households_referred_debt_help": 0, "median_days_to_first_attempt": 4}
    assert raw["energie"]["signals_received"] == 1

    december = _monitor(ctx, monkeypatch, capsys, "2026-12")
    row = december[("krispijn", "alle")]
    assert row["signals_received"] == row["households"] == "<5"
    assert ANNA.name not in json.dumps([*november.values(), *december.values()])
