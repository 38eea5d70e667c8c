"""Valid test data: BSNs that pass the elfproef, residents, partners, messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.core.context import HubContext
from hub.core.identity import add_partner, issue_token
from hub.core.partner_keys import key_hasher
from hub.core.residents import import_residents_text


def make_bsn(seed: int) -> str:
    """A valid BSN (elfproef) for ``seed``; different seeds always give different BSNs."""
    if not 0 <= seed < 40_000_000:
        raise ValueError("seed out of range")
    for prefix in (10_000_000 + seed, 50_000_000 + seed):
        digits = str(prefix)
        check = sum(int(d) * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10:  # a check digit of 10 does not exist: use the other prefix range
            return digits + str(check)
    raise AssertionError(f"no BSN for seed {seed}")


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move time forward and return the new now."""
        self.now += timedelta(**delta)
        return self.now


@dataclass(frozen=True)
class Person:
    """A resident of the test registry."""

    bsn: str
    name: str
    birthdate: str
    postcode: str
    huisnummer: str
    straat: str | None = None        # optional registry columns (issue 15, item 11)
    woonplaats: str | None = None


def person(seed: int, *, postcode: str = "3317AB", huisnummer: str | None = None,
           name: str | None = None, straat: str | None = None,
           woonplaats: str | None = None) -> Person:
    """A resident living in Krispijn (3317) unless told otherwise."""
    return Person(bsn=make_bsn(seed), name=name or f"Bewoner {seed}", birthdate="1980-01-01",
                  postcode=postcode, huisnummer=huisnummer or str(seed % 900 + 1),
                  straat=straat, woonplaats=woonplaats)


def register(ctx: HubContext, *people: Person) -> None:
    """Put people into the resident registry."""
    streets = any(p.straat or p.woonplaats for p in people)
    lines = ["bsn,name,birthdate,postcode,huisnummer" + (",straat,woonplaats" if streets else "")]
    lines += [f"{p.bsn},{p.name},{p.birthdate},{p.postcode},{p.huisnummer}"
              + (f",{p.straat or ''},{p.woonplaats or ''}" if streets else "") for p in people]
    with ctx.sessions() as session, session.begin():
        result = import_residents_text(session=session, ctx=ctx, text="\n".join(lines))
    assert not result.errors, result.errors


def partner(ctx: HubContext, name: str = "Woonbron", kind: str = "woningcorporatie",
            endpoint: str | None = None) -> tuple[str, dict[str, str]]:
    """Register a partner (``endpoint``: its own API, for outbound messages); returns
    its id and the Authorization header for its key."""
    with ctx.sessions() as session, session.begin():
        p, key = add_partner(session=session, name=name, kind=kind, now=ctx.clock(),
                             hasher=key_hasher(ctx.settings), endpoint=endpoint)
    return p.id, {"Authorization": f"Bearer {key}"}


def regisseur(ctx: HubContext, wijk: str = "krispijn", user: str = "anna") -> dict[str, str]:
    """Authorization header of a regisseur of ``wijk``."""
    return {"Authorization": f"Bearer {issue_token(ctx, role='regisseur', user=user, wijk=wijk)}"}


def resident(ctx: HubContext, who: Person) -> dict[str, str]:
    """Authorization header of a resident."""
    token = issue_token(ctx, role="resident", user="bewoner",
                        subject=ctx.pseudonyms.subject(who.bsn))
    return {"Authorization": f"Bearer {token}"}


def arrears(who: Person, *, ref: str, amount: str = "1250.00", tenancy: str | None = None,
            by_bsn: bool = False, **data: Any) -> dict[str, Any]:
    """A ``signal.arrears.rent`` message about ``who``."""
    subject: dict[str, Any] = ({"bsn": who.bsn} if by_bsn else
                               {"name": who.name, "postcode": who.postcode,
                                "huisnummer": who.huisnummer})
    return {"type": "signal.arrears.rent", "source_ref": ref, "subject": subject,
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"amount_eur": amount, "months": 3, "since": "2026-08-01",
                     "tenancy_ref": tenancy or f"HC-{who.name}",
                     "address": {"postcode": who.postcode, "huisnummer": who.huisnummer},
                     **data}}


def nuisance(who: Person, *, ref: str) -> dict[str, Any]:
    """A ``signal.nuisance`` message about ``who``."""
    return {"type": "signal.nuisance", "source_ref": ref,
            "subject": {"name": who.name, "postcode": who.postcode,
                        "huisnummer": who.huisnummer},
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"description": "Geluidsoverlast in de avond",
                     "address": {"postcode": who.postcode, "huisnummer": who.huisnummer}}}


def operator(ctx: HubContext, user: str = "beheer") -> dict[str, str]:
    """Authorization header of an operator of the hub."""
    return {"Authorization": f"Bearer {issue_token(ctx, role='operator', user=user)}"}


def teamlead(ctx: HubContext, wijk: str = "krispijn", user: str = "bram") -> dict[str, str]:
    """Authorization header of a team lead of ``wijk`` (reads the wijk's inbox)."""
    return {"Authorization": f"Bearer {issue_token(ctx, role='teamlead', user=user, wijk=wijk)}"}
