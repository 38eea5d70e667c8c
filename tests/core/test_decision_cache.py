"""The hub decides through the consent cache, and a revocation still counts at once."""

from __future__ import annotations

from tests.utils.builders import nuisance, partner, person, regisseur, register, resident


def _send(client, body, headers) -> None:
    assert client.post("/api/v1/messages", json=body, headers=headers).status_code == 202


def _types_and_bases(client, ctx) -> list[tuple[str, str]]:
    items = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["items"]
    return [(i["type"], i["basis"]) for i in items]


def test_revocation_is_honoured_at_once_with_a_warm_cache(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    me = resident(ctx, anna)
    r = client.post("/api/v1/me/consents", headers=me, json={
        "source_kinds": ["woningcorporatie"], "categories": ["wonen"], "purpose": "hulp"})
    consent_id = r.json()["id"]
    _send(client, nuisance(anna, ref="N-1"), woonbron)
    worker.drain()
    # In a batch of its own: one batch reads a resident's consents once for all its
    # messages (issue 14), so only a later batch finds them in the cache.
    _send(client, nuisance(anna, ref="N-2"), woonbron)
    worker.drain()
    assert ctx.consent_cache.hits >= 1  # the second decision came from memory
    assert client.post(f"/api/v1/me/consents/{consent_id}/revoke", headers=me).status_code == 200
    _send(client, nuisance(anna, ref="N-3"), woonbron)
    worker.drain()
    # N-3 is held; N-1 and N-2 are no longer shown (the read re-checks, through the cache).
    assert _types_and_bases(client, ctx) == []
    held = client.get("/api/v1/me/requests", headers=me).json()
    assert [q["status"] for q in held] == ["pending"]


def test_the_cache_size_comes_from_the_settings(ctx):
    assert ctx.consent_cache.maxsize == ctx.settings.consent_cache_size == 10_000
