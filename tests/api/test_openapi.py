"""The OpenAPI document is whole: every reference resolves, errors are problem+json."""

from __future__ import annotations

import json
import re


def test_every_reference_resolves(client):
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    refs = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(doc)))
    assert "#/components/schemas/MessageCreate" in refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_errors_are_documented_as_problem_json(client):
    doc = client.get("/openapi.json").json()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            assert "application/problem+json" in responses["4XX"]["content"], (method, path)


def test_the_contract_paths_are_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ["/api/v1/messages", "/api/v1/messages/batch", "/api/v1/batches/{batch_id}",
                 "/api/v1/messages/{message_id}", "/api/v1/inbox", "/api/v1/inbox/{item_id}",
                 "/api/v1/inbox/{item_id}/take-up", "/api/v1/inbox/{item_id}/close",
                 "/api/v1/me/consents", "/api/v1/me/consents/{consent_id}/revoke",
                 "/api/v1/me/requests", "/api/v1/me/requests/{request_id}/approve",
                 "/api/v1/me/requests/{request_id}/deny", "/api/v1/me/disclosures",
                 "/healthz", "/readyz"]:
        assert path in paths, path


def test_the_message_receipt_and_the_bearer_key_are_documented(client):
    # post_message answers with a Response it serialised itself and reads the hub from
    # the app (issue 14); the document must still say what it answers and that it wants
    # a partner's key.
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/messages"]["post"]
    answer = operation["responses"]["202"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/MessageReceipt"}
    assert operation["security"] == [{"HTTPBearer": []}]
