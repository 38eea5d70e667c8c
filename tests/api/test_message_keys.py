"""``POST /api/v1/messages`` checks the partner's key in the transaction that stores the
message (issue 14): a key this process remembers answers from its snapshot, and the
group commit re-reads revocation, expiry, the partner's state and its pins.

Each change below is made in a session of its own, as another process (``hub
partners revoke``, an operator's SQL) would make it, while this process's key cache
is warm; the very next message must be refused and leave nothing stored.
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from hub.core.models import Message, Partner, PartnerKey
from hub.core.partner_keys import key_id_of, revoke_keys
from tests.utils.builders import arrears, partner, person
from tests.utils.statements import counting

MESSAGES = "/api/v1/messages"
REFUSED = "Unknown or revoked partner API key"


@pytest.fixture
def warm(ctx, client) -> tuple[str, dict[str, str]]:
    """A partner whose key this process has verified (one message accepted): its id and
    Authorization header."""
    partner_id, auth = partner(ctx)
    r = client.post(MESSAGES, json=arrears(person(9000), ref="WARM"), headers=auth)
    assert r.status_code == 202, r.text
    return partner_id, auth


def _stored(ctx) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(Message))


def _refused(response, field: str = "authorization", reason: str = REFUSED) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["errors"][0]
    assert (error["field"], error["reason"]) == (field, reason)


def _post(client, auth, n: int):
    return client.post(MESSAGES, json=arrears(person(9100 + n), ref=f"K-{n}"), headers=auth)


def test_a_remembered_key_costs_no_transaction_of_its_own(ctx, client, warm):
    _, auth = warm
    with counting(ctx.engine) as counts:
        assert _post(client, auth, 1).status_code == 202
    # One transaction: the group's, which stores the message and re-checks the key.
    assert counts.commits == 1, counts.statements
    assert _stored(ctx) == 2


def test_a_key_revoked_elsewhere_stops_the_very_next_message(ctx, client, warm):
    partner_id, auth = warm
    with ctx.sessions() as session, session.begin():
        assert revoke_keys(session=session, partner_id=partner_id, now=ctx.clock()) == 1
    _refused(_post(client, auth, 1))
    assert _stored(ctx) == 1


def test_a_key_stops_at_its_expiry_without_any_change_in_the_database(
        ctx, client, warm, clock):
    partner_id, auth = warm
    with ctx.sessions() as session, session.begin():
        session.execute(update(PartnerKey).where(PartnerKey.partner_id == partner_id)
                        .values(expires_at=clock() + timedelta(minutes=1)))
    assert _post(client, auth, 1).status_code == 202
    clock.advance(minutes=1)
    _refused(_post(client, auth, 2))
    assert _stored(ctx) == 2


def test_a_deactivated_partner_is_stopped_at_once(ctx, client, warm):
    partner_id, auth = warm
    with ctx.sessions() as session, session.begin():
        session.execute(update(Partner).where(Partner.id == partner_id).values(active=False))
    _refused(_post(client, auth, 1))
    assert _stored(ctx) == 1


def test_a_certificate_pinned_after_the_key_was_remembered_is_required_at_once(
        ctx, client, warm):
    partner_id, auth = warm
    with ctx.sessions() as session, session.begin():
        session.execute(update(Partner).where(Partner.id == partner_id)
                        .values(cert_sha256="ab" * 32))
    # The group finds the snapshot changed; the key is checked in full again, within the
    # same request, and meets the pin: refused for what is really missing.
    for n in (1, 2):
        _refused(_post(client, auth, n), "client_certificate",
                 "this partner must present its client certificate")
    assert _stored(ctx) == 1


def test_a_signing_key_pinned_after_the_key_was_remembered_is_required_at_once(
        ctx, client, warm):
    partner_id, auth = warm
    public = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    with ctx.sessions() as session, session.begin():
        session.execute(update(Partner).where(Partner.id == partner_id)
                        .values(signing_key=base64.b64encode(public).decode()))
    for n in (1, 2):
        answer = _post(client, auth, n)
        assert answer.status_code == 401 and answer.json()["errors"][0]["field"] == \
            "x-hub-timestamp"
    assert _stored(ctx) == 1


def test_a_key_rehashed_by_another_process_is_checked_again_not_refused(ctx, client, warm):
    # Another API process moved the key to new argon2 parameters (a new hash of the same
    # key): this process's snapshot no longer matches, but nothing was revoked.
    partner_id, auth = warm
    api_key = auth["Authorization"].removeprefix("Bearer ")
    with ctx.sessions() as session, session.begin():
        session.execute(update(PartnerKey).where(PartnerKey.partner_id == partner_id)
                        .values(key_hash=PasswordHasher(time_cost=1, memory_cost=8,
                                                        parallelism=1).hash(api_key)))
    with counting(ctx.engine) as counts:
        assert _post(client, auth, 1).status_code == 202
    # The group found the change (nothing stored), the key was looked up again in full,
    # and the second group stored the message.
    assert counts.commits == 3, counts.statements
    assert _stored(ctx) == 2
    assert _post(client, auth, 2).status_code == 202  # remembered again: one group
    assert _stored(ctx) == 3


def test_a_refused_key_in_a_group_leaves_the_other_partners_messages_stored(ctx, client):
    # Two partners, both remembered; one is revoked. Their messages go through the
    # committer together: only the revoked partner's is refused.
    import threading

    kept_id, kept = partner(ctx, name="Woonbron")
    gone_id, gone = partner(ctx, name="Havensteder")
    for n, auth in enumerate((kept, gone)):
        assert _post(client, auth, 10 + n).status_code == 202
    with ctx.sessions() as session, session.begin():
        revoke_keys(session=session, partner_id=gone_id, now=ctx.clock(),
                    key_id=key_id_of(gone["Authorization"].removeprefix("Bearer ")))
    before = ctx.settings
    ctx.settings = before.model_copy(update={"ingest_group_ms": 100, "ingest_group_size": 4})
    answers: dict[str, list[int]] = {"kept": [], "gone": []}
    try:
        def send(name: str, auth: dict, n: int) -> None:
            answers[name].append(_post(client, auth, n).status_code)

        threads = [threading.Thread(target=send, args=(name, auth, 20 + n))
                   for n, (name, auth) in enumerate(
                       [("kept", kept), ("gone", gone), ("kept", kept), ("gone", gone)])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        ctx.settings = before
    assert answers == {"kept": [202, 202], "gone": [401, 401]}
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)
                              .where(Message.source_partner == kept_id)) == 3
        assert session.scalar(select(func.count()).select_from(Message)
                              .where(Message.source_partner == gone_id)) == 1
