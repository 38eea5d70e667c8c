"""The OpenAPI document names every message type and CSV format the loaded plugins accept."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_each_inbound_type_is_documented_with_its_data_schema(client):
    doc = client.get("/openapi.json").json()
    operation = doc["paths"]["/api/v1/messages"]["post"]
    types = {t["type"]: t for t in operation["x-message-types"]}
    energy = types["signal.end_of_supply.energy"]
    assert (energy["partner_kinds"], energy["category"]) == (["energie"], "financieel")
    data = doc["components"]["schemas"]["data.signal.end_of_supply.energy"]
    assert {"end_of_supply_date", "customer_ref", "phone", "email"} <= set(data["properties"])
    assert "end_of_supply_date" in data["required"]
    assert types["signal.arrears.health_insurance"]["partner_kinds"] == ["zorgverzekeraar"]
    assert "feedback.arrears.energy" not in types  # the hub sends it; nobody may post it


def test_each_csv_format_is_documented_with_its_header(client):
    doc = client.get("/openapi.json").json()
    formats = doc["paths"]["/api/v1/messages/batch"]["post"]["x-csv-formats"]
    headers = {kind: f["header"] for f in formats for kind in f["partner_kinds"]}
    assert headers["energie"].endswith("customer_ref,end_of_supply_date,phone,email")
    assert headers["zorgverzekeraar"].endswith("policy_ref,phone,email")
    assert headers["evides"].endswith("since,customer_ref")
