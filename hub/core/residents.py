"""The resident registry: import from CSV, and match a partner's subject to a resident.

Creditors usually send a name and an address, not a BSN (as Dutch early
signalling of debts works today). A subject matches a resident when the BSN
pseudonym is known, or else when exactly one resident at the address has the
same name (and the same birthdate, where one was given).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import namedtuple
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import IO, NamedTuple

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from hub.core.address import normalize_huisnummer, normalize_postcode
from hub.core.bsn import validate_bsn
from hub.core.context import HubContext
from hub.core.csvdialect import detect_separator, match_header
from hub.core.models import Household, Resident
from hub.core.routing_reads import RoutingReads
from hub.core.search import index_resident, normalize_name
from hub.core.store import in_list, is_postgres, run_while_waiting

RESIDENTS_HEADER = ("bsn", "name", "birthdate", "postcode", "huisnummer")
# Taken when present (issue 17, item 1): the caseload shows and searches them.
RESIDENTS_OPTIONAL = ("street", "place")
# The Dutch column names a municipality's export may carry (issue 15, item 5).
RESIDENTS_ALIASES = {"naam": "name", "geboortedatum": "birthdate", "huisnr": "huisnummer",
                     "straat": "street", "straatnaam": "street", "woonplaats": "place",
                     "plaats": "place"}


# Routing reads these as plain rows (prefetch_residents), with statements built once: the
# keys travel as expanding parameters, not IN lists coerced value by value (issue 14).
# Each resident comes with its household's columns (prefixed ``h_``) in the same row: one
# round trip for both tables, not a second select by household id. At an address only
# the residents who may bear a name asked for come back (their name key, or none yet):
# a care home's hundred residents are not read for every letter to one of them.
_RESIDENTS = Resident.__table__
_HOUSEHOLDS = Household.__table__
_HOUSEHOLD_COLUMNS = tuple(_HOUSEHOLDS.c.keys())
_HouseholdRow = namedtuple("_HouseholdRow", _HOUSEHOLD_COLUMNS)
_RESIDENTS_BY_KEY = {postgres: select(
    _RESIDENTS, *(column.label(f"h_{column.key}") for column in _HOUSEHOLDS.c))
    .outerjoin(_HOUSEHOLDS, _HOUSEHOLDS.c.id == _RESIDENTS.c.household_id)
    .where(or_(in_list(_RESIDENTS.c.subject, "subjects", postgres=postgres),
               and_(in_list(_RESIDENTS.c.address_key, "keys", postgres=postgres),
                    or_(_RESIDENTS.c.name_key.is_(None),
                        in_list(_RESIDENTS.c.name_key, "names", postgres=postgres)))))
    for postgres in (False, True)}


class AddressLookup(NamedTuple):
    """Who a message looks for at an address: the address key and the name key
    (:meth:`~hub.core.crypto.Pseudonymizer.name_key` of the normalised name)."""

    address_key: str
    name_key: str


@dataclass(frozen=True)
class Match:
    """How a subject was resolved: to a resident, or only to the wijk of an address."""

    subject: str | None
    household_id: str | None
    wijk: str | None
    method: str


@dataclass(frozen=True)
class ImportResult:
    """What ``hub residents import`` did."""

    imported: int
    updated: int
    errors: list[tuple[int, str, str]]


def _household_for(session: Session, ctx: HubContext, postcode: str, huisnummer: str,
                   wijk: str) -> Household:
    key = ctx.pseudonyms.address(postcode, huisnummer)
    household = session.scalar(select(Household).where(Household.address_key == key))
    if household is None:
        household = Household(id=str(uuid.uuid4()), address_key=key, wijk=wijk)
        session.add(household)
        session.flush()
    return household


def import_residents(*, session: Session, ctx: HubContext, stream: IO[str]) -> ImportResult:
    """Add or update residents from a ``bsn,name,birthdate,postcode,huisnummer`` CSV,
    with ``street`` (``straat``) and ``place`` (``woonplaats``) columns when present.

    The separator (``;``, ``,`` or tab) is taken from the header line; the header's
    case, spaces and a BOM do not matter, nor the columns' order, and Dutch names
    (``naam``, ``geboortedatum``) are understood. A wrong header raises ValueError
    saying which columns differ.

    Lines with errors are skipped and reported by line number and field; good
    lines are kept. Residents at one address form one household. Each resident's
    search tokens are replaced (:mod:`hub.core.search`).
    """
    first = stream.readline()
    if not first.strip():
        raise ValueError(f"the file is empty; the header must be {','.join(RESIDENTS_HEADER)}")
    separator = detect_separator(first)
    header_reader = csv.reader([first], delimiter=separator)
    columns = match_header(next(header_reader), RESIDENTS_HEADER, ordered=False,
                           aliases=RESIDENTS_ALIASES, optional=RESIDENTS_OPTIONAL)
    # The header is read; DictReader goes on with the same stream under the hub's names.
    reader = csv.DictReader(stream, fieldnames=columns, delimiter=separator)
    imported = updated = 0
    errors: list[tuple[int, str, str]] = []
    for row in reader:
        line = reader.line_num + 1  # the header line was read before the reader began
        if None in row or any(value is None for value in row.values()):
            more = "more" if None in row else "fewer"
            errors.append((line, "line", f"has {more} columns than the header's "
                                         f"{len(columns)}"))
            continue
        try:
            bsn = validate_bsn(row["bsn"] or "")
        except ValueError as exc:
            errors.append((line, "bsn", str(exc)))
            continue
        try:
            postcode = normalize_postcode(row["postcode"] or "")
        except ValueError as exc:
            errors.append((line, "postcode", str(exc)))
            continue
        try:
            huisnummer = normalize_huisnummer(row["huisnummer"] or "")
        except ValueError as exc:
            errors.append((line, "huisnummer", str(exc)))
            continue
        name = (row["name"] or "").strip()
        if not name:
            errors.append((line, "name", "is required"))
            continue
        birthdate = (row["birthdate"] or "").strip()
        if birthdate:
            try:
                date.fromisoformat(birthdate)
            except ValueError:
                errors.append((line, "birthdate", "must be a date like 1980-05-17"))
                continue
        wijk = ctx.wijkmap.wijk_for(postcode)
        if wijk is None:
            errors.append((line, "postcode", "is outside the wijken of this hub"))
            continue
        household = _household_for(session, ctx, postcode, huisnummer, wijk)
        subject = ctx.pseudonyms.subject(bsn)
        identity = {"name": name, "birthdate": birthdate or None,
                    "postcode": postcode, "huisnummer": huisnummer}
        for extra in RESIDENTS_OPTIONAL:
            value = " ".join((row.get(extra) or "").split())
            if value:
                identity[extra] = value[:200]
        resident = session.get(Resident, subject)
        if resident is None:
            resident = Resident(subject=subject, household_id=household.id,
                                address_key=household.address_key, identity_sealed="")
            session.add(resident)
            imported += 1
        else:
            updated += 1
        resident.household_id = household.id
        resident.address_key = household.address_key
        resident.identity_sealed = ctx.cipher.seal(identity, context=f"resident:{subject}")
        resident.name_key = ctx.pseudonyms.name_key(normalize_name(name))
        index_resident(session=session, ctx=ctx, subject=subject, household_id=household.id,
                       identity=identity)
    return ImportResult(imported=imported, updated=updated, errors=errors)


def import_residents_text(*, session: Session, ctx: HubContext, text: str) -> ImportResult:
    """:func:`import_residents` for a CSV held in a string."""
    return import_residents(session=session, ctx=ctx, stream=io.StringIO(text))


def resident_identity(ctx: HubContext, resident: Resident) -> dict:
    """The sealed identity of a resident (name, birthdate, postcode, huisnummer)."""
    return ctx.cipher.open(resident.identity_sealed, context=f"resident:{resident.subject}")


def key_legacy_names(*, session: Session, ctx: HubContext, limit: int = 1000) -> int:
    """Give up to ``limit`` residents without a name key (imported before migration
    0021) theirs, in the caller's transaction; returns how many. Call until 0.

    Alembic has no keys, so migration 0021 only adds the column and this runs after
    the upgrade (``hub.cli.common.hub_context``): each identity is opened once here
    rather than at every message to its address.
    """
    rows = session.scalars(select(Resident).where(Resident.name_key.is_(None))
                           .order_by(Resident.subject).limit(limit)).all()
    for resident in rows:
        name = resident_identity(ctx, resident)["name"]
        resident.name_key = ctx.pseudonyms.name_key(normalize_name(name))
    return len(rows)


def first_unkeyed() -> Select:
    """The subject of one resident still without a name key (partial index, 0022)."""
    return select(Resident.subject).where(Resident.name_key.is_(None)).limit(1)


def key_all_legacy_names(ctx: HubContext) -> int:
    """Run :func:`key_legacy_names` in short transactions until nothing is left; the
    first question is answered from the partial index of migration 0022."""
    return run_while_waiting(ctx.sessions, first_unkeyed(),
                             lambda session: key_legacy_names(session=session, ctx=ctx))


def prefetch_residents(*, session: Session, reads: RoutingReads, subjects: Iterable[str],
                       lookups: Iterable[AddressLookup]) -> None:
    """Read into ``reads`` the residents with these subjects, and for each lookup the
    residents at its address who may bear its name, with their households: one select,
    whatever the number (for :func:`match_subject`).

    "May bear its name": the same name key, or none yet (imported before migration
    0021 and not yet keyed by :func:`key_all_legacy_names`: :func:`match_subject`
    opens those to compare). Plain rows of the tables'
    columns, not ORM entities (issue 14: an entity each was a large part of a batch's
    prefetch): routing only reads them.
    """
    subjects = sorted(set(subjects) - reads.residents.keys())
    lookups = sorted(set(lookups) - reads.at_address.keys())
    if not subjects and not lookups:
        return
    postgres = is_postgres(session)
    found = list(session.execute(_RESIDENTS_BY_KEY[postgres], {
        "subjects": subjects, "keys": sorted({lookup.address_key for lookup in lookups}),
        "names": sorted({lookup.name_key for lookup in lookups})}))
    for subject in subjects:
        reads.residents[subject] = None
    # Address key -> the lookups asked now at that address (a few names at most).
    asked: dict[str, list[AddressLookup]] = {}
    for lookup in lookups:
        reads.at_address[lookup] = []
        asked.setdefault(lookup.address_key, []).append(lookup)
    for resident in found:
        reads.residents[resident.subject] = resident
        # A row comes once per select, and no subject or lookup is asked twice (the
        # filters above), so each lookup asked now gets each of its residents once.
        # No look-up in the list: comparing rows made this quadratic in the residents
        # at one address, a care home's hundred say (issue 14).
        for lookup in asked.get(resident.address_key, ()):
            if resident.name_key is None or resident.name_key == lookup.name_key:
                reads.at_address[lookup].append(resident)
        household = resident._mapping
        if household["h_id"] is not None and household["h_id"] not in reads.households:
            reads.households[household["h_id"]] = _HouseholdRow(
                *(household[f"h_{name}"] for name in _HOUSEHOLD_COLUMNS))


def _resident(session: Session, reads: RoutingReads | None, subject: str) -> Resident | None:
    if reads is None:
        return session.get(Resident, subject)
    if subject not in reads.residents:
        prefetch_residents(session=session, reads=reads, subjects=[subject], lookups=[])
    return reads.residents[subject]


def _household(session: Session, reads: RoutingReads | None, household_id: str) -> Household:
    if reads is None:
        return session.get(Household, household_id)
    household = reads.households.get(household_id)
    if household is None:
        household = reads.households[household_id] = session.get(Household, household_id)
    return household


def _at_address(session: Session, reads: RoutingReads | None,
                lookup: AddressLookup) -> list[Resident]:
    """The residents at the lookup's address who may bear its name (see prefetch_residents)."""
    if reads is None:
        return list(session.scalars(select(Resident).where(
            Resident.address_key == lookup.address_key,
            or_(Resident.name_key.is_(None), Resident.name_key == lookup.name_key))))
    if lookup not in reads.at_address:
        prefetch_residents(session=session, reads=reads, subjects=[], lookups=[lookup])
    return reads.at_address[lookup]


def _identity(ctx: HubContext, reads: RoutingReads | None, resident: Resident) -> dict:
    if reads is None:
        return resident_identity(ctx, resident)
    identity = reads.identities.get(resident.subject)
    if identity is None:
        identity = reads.identities[resident.subject] = resident_identity(ctx, resident)
    return identity


def address_lookup_of(ctx: HubContext, *, name: str | None, postcode: str | None,
                      huisnummer: str | None) -> AddressLookup | None:
    """What :func:`match_subject` looks residents up by, or None (no such lookup: a name,
    a postcode and a house number are all needed)."""
    if name and postcode and huisnummer:
        return AddressLookup(ctx.pseudonyms.address(postcode, huisnummer),
                             ctx.pseudonyms.name_key(normalize_name(name)))
    return None


def match_subject(*, session: Session, ctx: HubContext, subject: str | None, name: str | None,
                  birthdate: str | None, postcode: str | None,
                  huisnummer: str | None, reads: RoutingReads | None = None,
                  lookup: AddressLookup | None = None) -> Match:
    """Resolve a partner's subject to a resident and household, or to a wijk for triage.

    With ``reads`` (the router's batch), residents and households are taken from it
    (:func:`prefetch_residents`) and what is missing there is read into it.
    ``lookup`` is :func:`address_lookup_of` these fields when the caller computed it
    already (the router's prefetch: two keyed hashes per message, not four).
    Only the residents at the address with the same name key (or none yet) have
    their identity opened, to compare the name and the birthdate.
    """
    area_wijk = ctx.wijkmap.wijk_for(postcode) if postcode else None
    if subject is not None:
        resident = _resident(session, reads, subject)
        if resident is not None:
            household = _household(session, reads, resident.household_id)
            return Match(subject, household.id, household.wijk, "bsn")
    if lookup is None:
        lookup = address_lookup_of(ctx, name=name, postcode=postcode, huisnummer=huisnummer)
    if lookup is not None:
        candidates = []
        wanted = normalize_name(name)
        for resident in _at_address(session, reads, lookup):
            identity = _identity(ctx, reads, resident)
            if normalize_name(identity["name"]) != wanted:
                continue
            if birthdate and identity.get("birthdate") and identity["birthdate"] != birthdate:
                continue
            candidates.append(resident)
        if len(candidates) == 1:
            resident = candidates[0]
            household = _household(session, reads, resident.household_id)
            method = "name+address+birthdate" if birthdate else "name+address"
            return Match(resident.subject, household.id, household.wijk, method)
        if len(candidates) > 1:
            return Match(subject, None, area_wijk, "ambiguous")
    return Match(subject, None, area_wijk, "unmatched")
