"""Every field a plugin's message can show has a Dutch label (issue 13, item 15)."""

from __future__ import annotations

import re

from consent import explain
from hub.core.plugins import load_plugins
from hub.core.types import exposed_fields
from tests.plugins.sdd.helpers import decision, desk, desk_server, wmo_request
from tests.utils.builders import person, regisseur, register, resident


def test_every_field_of_every_loaded_type_has_a_dutch_label():
    core = set(explain.core_field_words())
    missing = {name: sorted(exposed_fields(mt.data_model) - core - set(mt.labels))
               for name, mt in load_plugins().catalog.types.items()}
    assert not {name: fields for name, fields in missing.items() if fields}


def test_labels_are_words_not_identifiers():
    for mt in load_plugins().catalog.types.values():
        for field, label in mt.labels.items():
            assert label.strip() and "_" not in label, (mt.name, field)


# The English field names of a Wmo decision as they leaked into texts before.
_ENGLISH = re.compile(r"request id|outcome|product (category|code|name)|start date|end date|"
                      r"desk reference|volume|_", re.IGNORECASE)


def test_a_wmo_decision_is_explained_in_dutch_words(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    _, desk_key = desk(ctx)
    mock, _route = desk_server()
    with mock:
        r = client.post("/api/v1/wmo/requests", json=wmo_request(anna), headers=regisseur(ctx))
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        worker.drain()
        r = client.post("/api/v1/messages", json=decision(anna, rid), headers=desk_key)
        assert r.status_code == 202, r.text
        worker.drain()
    me = resident(ctx, anna)
    texts = [k["explanation"] for k in client.get("/api/v1/me/data", headers=me).json()]
    texts += [d["explanation"] for d in client.get("/api/v1/me/disclosures", headers=me).json()]
    texts += [i["reason"] for i in client.get("/api/v1/inbox", headers=regisseur(ctx)).json()
              ["items"]]
    assert any("Het gaat alleen om" in t for t in texts), texts
    assert not [t for t in texts if _ENGLISH.search(t)], texts
