""""Ik heb een vraag": the resident's own question reaches their regisseur (issue 17, item 5)."""

from __future__ import annotations

from sqlalchemy import text

from tests.utils.builders import person, regisseur, register, resident

QUESTION = "Kan iemand mij helpen met de brief van de gemeente?"


def test_the_question_reaches_the_wijks_inbox_on_the_residents_own_request(ctx, client,
                                                                            caplog):
    anna = person(1)
    register(ctx, anna)
    with ctx.engine.begin() as conn:
        conn.execute(text("update households set regisseur = 'anna'"))
    caplog.set_level("DEBUG")
    r = client.post("/api/v1/me/questions", json={"text": QUESTION},
                    headers=resident(ctx, anna))
    assert r.status_code == 201, r.text
    assert r.json()["regisseur"] == "anna"
    [item] = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["items"]
    assert item["id"] == r.json()["id"]
    assert item["basis"] == "own_request"
    assert item["summary"] == "Vraag van de bewoner"
    assert item["data"]["text"] == QUESTION and item["data"]["name"] == anna.name
    assert "zelf" in item["reason"]
    assert QUESTION not in caplog.text
    with ctx.engine.connect() as conn:
        sealed = conn.execute(text("select payload_sealed from messages")).scalar_one()
    assert QUESTION not in sealed
    # Another wijk does not see it.
    assert client.get("/api/v1/inbox", headers=regisseur(ctx, "crabbehof", user="c")
                      ).json()["total"] == 0


def test_an_empty_question_is_refused_naming_text(ctx, client):
    anna = person(1)
    register(ctx, anna)
    for body in ({}, {"text": "   "}, {"text": "x" * 2001}, {"text": "a\x00b"}):
        r = client.post("/api/v1/me/questions", json=body, headers=resident(ctx, anna))
        assert r.status_code == 422, r.text
        assert "text" in r.json()["detail"]
    assert client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["total"] == 0
    # A resident who is not in the registry has no wijk to ask.
    r = client.post("/api/v1/me/questions", json={"text": QUESTION},
                    headers=resident(ctx, person(5)))
    assert r.status_code == 404
