"""The resident registry: CSV import, households, matching, and no personal data in clear."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, func, select, update

from hub.core.models import Household, Resident
from hub.core.residents import (
    ImportResult,
    address_lookup_of,
    import_residents_text,
    key_all_legacy_names,
    match_subject,
    prefetch_residents,
    resident_identity,
)
from hub.core.routing_reads import RoutingReads
from tests.utils.builders import make_bsn

HEADER = "bsn,name,birthdate,postcode,huisnummer"


def bsns(count: int, start: int) -> list[str]:
    """``count`` different valid BSNs."""
    out = [make_bsn(seed) for seed in range(start, start + count)]
    assert len(set(out)) == count
    return out


def _import(ctx, *lines: str, header: str = HEADER) -> ImportResult:
    with ctx.sessions() as session, session.begin():
        return import_residents_text(session=session, ctx=ctx,
                                     text="\n".join([header, *lines]) + "\n")


def _match(ctx, *, subject=None, name=None, birthdate=None, postcode=None, huisnummer=None):
    with ctx.sessions() as session:
        return match_subject(session=session, ctx=ctx, subject=subject, name=name,
                             birthdate=birthdate, postcode=postcode, huisnummer=huisnummer)


def _residents(ctx) -> dict[str, Resident]:
    with ctx.sessions() as session:
        return {r.subject: r for r in session.scalars(select(Resident))}


def test_import_keeps_good_lines_and_names_the_field_of_each_bad_one(ctx):
    good1, good2, good3, *others = bsns(8, 1)
    bad_bsn = good1[:8] + str((int(good1[8]) + 1) % 10)  # breaks the elfproef
    result = _import(
        ctx,
        f"{good1},Anna de Vries,1980-05-17,3317 ab,12",        # line 2
        f"{bad_bsn},Bert Bakker,1970-01-01,3317AB,14",         # line 3: bsn
        f"{others[0]},Cor Claassen,1970-01-01,33177AB,16",   # line 4: postcode
        f"{others[1]},Dirk Dekker,1970-01-01,1011AB,18",     # line 5: outside the map
        f"{others[2]},   ,1970-01-01,3317AB,20",             # line 6: name
        f"{others[3]},Eva Evers,17-05-1980,3317AB,22",       # line 7: birthdate
        f"{good2},Femke Faber,,3321CD,1",                      # line 8: birthdate optional
        f"{others[4]},Gijs Groen,1970-01-01,3317AB,0",       # line 9: huisnummer
        f"{good3},Hans Hoek,1990-02-03,3329XY,5",              # line 10
    )
    assert (result.imported, result.updated) == (3, 0)
    assert [(line, field) for line, field, _ in result.errors] == [
        (3, "bsn"), (4, "postcode"), (5, "postcode"), (6, "name"), (7, "birthdate"),
        (9, "huisnummer")]
    reasons = {line: reason for line, _, reason in result.errors}
    assert "BSN" in reasons[3]
    assert "outside" in reasons[5]
    # An error names the field, never repeats the value.
    assert all(bad_bsn not in reason for _, _, reason in result.errors)
    residents = _residents(ctx)
    assert set(residents) == {ctx.pseudonyms.subject(b) for b in (good1, good2, good3)}
    anna = resident_identity(ctx, residents[ctx.pseudonyms.subject(good1)])
    assert anna == {"name": "Anna de Vries", "birthdate": "1980-05-17",
                    "postcode": "3317AB", "huisnummer": "12"}


def test_residents_at_one_address_share_one_household(ctx):
    a, b, c = bsns(3, 11)
    result = _import(ctx, f"{a},Anna de Vries,1980-05-17,3317AB,12A",
                     f"{b},Bram de Vries,2010-03-01,3317 ab,12 a",
                     f"{c},Cees Buur,1950-01-01,3317AB,14")
    assert result.errors == [] and result.imported == 3
    residents = _residents(ctx)
    ra, rb, rc = (residents[ctx.pseudonyms.subject(x)] for x in (a, b, c))
    assert ra.household_id == rb.household_id
    assert rc.household_id != ra.household_id
    with ctx.sessions() as session:
        households = {h.id: h for h in session.scalars(select(Household))}
    assert len(households) == 2
    assert households[ra.household_id].wijk == "krispijn"
    assert households[ra.household_id].address_key == ctx.pseudonyms.address("3317AB", "12A")


def test_reimport_updates_instead_of_duplicating(ctx):
    a = make_bsn(21)
    _import(ctx, f"{a},Anna de Vries,1980-05-17,3317AB,12")
    result = _import(ctx, f"{a},Anna de Vries-Jansen,1980-05-17,3321CD,7")
    assert (result.imported, result.updated, result.errors) == (0, 1, [])
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Resident)) == 1
        resident = session.get(Resident, ctx.pseudonyms.subject(a))
        household = session.get(Household, resident.household_id)
    assert resident_identity(ctx, resident)["name"] == "Anna de Vries-Jansen"
    assert household.wijk == "crabbehof"
    assert resident.address_key == ctx.pseudonyms.address("3321CD", "7")
    # The moved resident is found at the new address, no longer at the old one.
    assert _match(ctx, name="Anna de Vries-Jansen", postcode="3321CD",
                  huisnummer="7").subject == ctx.pseudonyms.subject(a)
    assert _match(ctx, name="Anna de Vries", postcode="3317AB",
                  huisnummer="12").method == "unmatched"


@pytest.mark.parametrize(("header", "why"), [
    ("bsn,name,birthdate,postcode", "missing column(s) huisnummer"),
    ("bsn,name,geboren,postcode,huisnummer", "unknown column 3 (expected birthdate there)"),
    ("bsn,name,name,postcode,huisnummer", "repeated column(s) name"),
    ("", "the file is empty"),
    ("bsn,name,birthdate,postcode,huisnummer,telefoon", "unknown column 6"),
    ("bsn,name,birthdate,postcode,huisnummer,straat,straat", "repeated column(s) street"),
])
def test_wrong_header_is_refused_saying_what_differs(ctx, header, why):
    with pytest.raises(ValueError) as refused:
        _import(ctx, f"{make_bsn(1)},Anna,1980-01-01,3317AB,12", header=header)
    assert why in str(refused.value)
    assert "bsn,name,birthdate,postcode,huisnummer" in str(refused.value)
    assert _residents(ctx) == {}


@pytest.mark.parametrize(("header", "separator"), [
    ("\ufeffBSN;Naam;Geboortedatum;Postcode;Huisnummer", ";"),   # Excel, Dutch
    (" Bsn , Name , Birthdate , Postcode , Huis nummer ", ","),
    ("bsn\tname\tbirthdate\tpostcode\thuisnummer", "\t"),
    ("name;bsn;birthdate;postcode;huisnummer", ";"),               # another order
])
def test_dutch_exports_are_read(ctx, header, separator):
    a, b = make_bsn(41), make_bsn(42)
    cells = {"bsn": [a, b], "name": ["Anna de Vries", "Bob Smit"],
             "birthdate": ["1980-05-17", ""], "postcode": ["3317AB", "3317AB"],
             "huisnummer": ["12", "14"]}
    names = [_canonical(h) for h in header.lstrip("\ufeff").split(separator)]
    lines = [separator.join(cells[n][i] for n in names) for i in range(2)]
    result = _import(ctx, *lines, header=header)
    assert (result.imported, result.errors) == (2, [])
    assert _match(ctx, name="Anna de Vries", postcode="3317AB",
                  huisnummer="12").subject == ctx.pseudonyms.subject(a)


def _canonical(header_cell: str) -> str:
    key = header_cell.strip().lower().replace(" ", "")
    return {"naam": "name", "geboortedatum": "birthdate"}.get(key, key)


def test_a_line_with_too_many_or_too_few_columns_is_named(ctx):
    result = _import(ctx, f"{make_bsn(43)},Anna,1980-01-01,3317AB,12,extra",
                     f"{make_bsn(44)},Bob,1980-01-01,3317AB")
    assert result.errors == [(2, "line", "has more columns than the header's 5"),
                             (3, "line", "has fewer columns than the header's 5")]


def test_match_by_bsn_pseudonym(ctx):
    a = make_bsn(31)
    _import(ctx, f"{a},Anna de Vries,1980-05-17,3317AB,12")
    subject = ctx.pseudonyms.subject(a)
    household_id = _residents(ctx)[subject].household_id
    # The BSN wins even when the name and address given do not fit.
    m = _match(ctx, subject=subject, name="Iemand Anders", postcode="3321CD", huisnummer="1")
    assert (m.subject, m.household_id, m.wijk, m.method) == (subject, household_id,
                                                            "krispijn", "bsn")


def test_match_by_name_and_address_ignores_case_accents_and_spacing(ctx):
    a = make_bsn(41)
    _import(ctx, f"{a},Anaïs  van der Berg,1980-05-17,3317AB,12A")
    subject = ctx.pseudonyms.subject(a)
    for given in ("Anaïs van der Berg", "  ANAIS   VAN DER BERG ", "anaïs van der berg"):
        m = _match(ctx, name=given, postcode="3317AB", huisnummer="12A")
        assert (m.subject, m.method, m.wijk) == (subject, "name+address", "krispijn"), given
        assert m.household_id == _residents(ctx)[subject].household_id
    # The same name at another house number is someone else.
    m = _match(ctx, name="Anaïs van der Berg", postcode="3317AB", huisnummer="12")
    assert (m.subject, m.household_id, m.method) == (None, None, "unmatched")
    # A different name at the same address is no match either.
    assert _match(ctx, name="Anaïs van den Berg", postcode="3317AB",
                  huisnummer="12A").method == "unmatched"


def test_birthdate_tells_namesakes_apart_and_without_it_the_match_is_ambiguous(ctx):
    senior, junior = bsns(2, 51)
    _import(ctx, f"{senior},Jan Jansen,1950-04-04,3319EF,3",
            f"{junior},Jan Jansen,1985-06-06,3319EF,3")
    m = _match(ctx, name="Jan Jansen", postcode="3319EF", huisnummer="3")
    assert (m.subject, m.household_id, m.wijk, m.method) == (None, None, "wielwijk", "ambiguous")
    m = _match(ctx, name="jan jansen", birthdate="1985-06-06", postcode="3319EF", huisnummer="3")
    assert (m.subject, m.method) == (ctx.pseudonyms.subject(junior), "name+address+birthdate")
    m = _match(ctx, name="Jan Jansen", birthdate="1950-04-04", postcode="3319EF", huisnummer="3")
    assert m.subject == ctx.pseudonyms.subject(senior)
    m = _match(ctx, name="Jan Jansen", birthdate="2001-01-01", postcode="3319EF", huisnummer="3")
    assert (m.subject, m.method, m.wijk) == (None, "unmatched", "wielwijk")


def test_a_batch_lists_each_resident_of_an_address_once_however_it_was_read(ctx):
    # A routing batch reads residents by address and name and by subject, in any order,
    # into one RoutingReads; a resident listed twice at its address would make the next
    # match there by name ambiguous.
    senior, junior, bram = bsns(3, 71)
    _import(ctx, f"{senior},Anna Smit,1950-05-17,3317AB,20",
            f"{junior},Anna Smit,1980-05-17,3317AB,20",
            f"{bram},Bram Smit,2010-03-01,3317AB,20")
    anna = address_lookup_of(ctx, name="Anna Smit", postcode="3317AB", huisnummer="20")
    reads = RoutingReads()
    with ctx.sessions() as session:
        prefetch_residents(session=session, reads=reads, subjects=[], lookups=[anna])
        prefetch_residents(session=session, reads=reads,
                           subjects=[ctx.pseudonyms.subject(senior)], lookups=[])
        prefetch_residents(session=session, reads=reads,
                           subjects=[ctx.pseudonyms.subject(bram)], lookups=[anna])
        listed = sorted(row.subject for row in reads.at_address[anna])
        # Both Annas, once each; Bram, of another name, is not read for this lookup.
        assert listed == sorted(ctx.pseudonyms.subject(b) for b in (senior, junior))
        m = match_subject(session=session, ctx=ctx, subject=None, name="anna smit",
                          birthdate="1980-05-17", postcode="3317AB", huisnummer="20",
                          reads=reads)
    assert (m.subject, m.method) == (ctx.pseudonyms.subject(junior), "name+address+birthdate")


def _counting_opens(ctx, monkeypatch) -> list[str]:
    """The contexts of every identity the cipher opens from now on."""
    opened: list[str] = []
    original = ctx.cipher.open

    def counted(sealed, *, context):
        opened.append(context)
        return original(sealed, context=context)

    monkeypatch.setattr(ctx.cipher, "open", counted)
    return opened


@pytest.mark.parametrize("batched", [False, True], ids=["alone", "in_a_batch"])
def test_matching_at_a_crowded_address_opens_only_the_namesake(ctx, monkeypatch, batched):
    # A care home: twenty residents at one address. The message names one of them;
    # the others' identities stay sealed (issue 14: twenty opens a message before).
    people = bsns(21, 101)
    target = people[0]
    _import(ctx, f"{target},Truus de Wit,1931-02-02,3317AB,40",
            *(f"{bsn},Bewoner {n},1930-01-01,3317AB,40" for n, bsn in enumerate(people[1:])))
    opened = _counting_opens(ctx, monkeypatch)
    with ctx.sessions() as session:
        m = match_subject(session=session, ctx=ctx, subject=None, name="Truus de Wit",
                          birthdate=None, postcode="3317AB", huisnummer="40",
                          reads=RoutingReads() if batched else None)
    assert (m.subject, m.method) == (ctx.pseudonyms.subject(target), "name+address")
    assert opened == [f"resident:{ctx.pseudonyms.subject(target)}"]


def test_a_resident_imported_before_name_keys_is_still_matched(ctx, monkeypatch):
    # Residents imported before migration 0021 have no name key until their next
    # import: they are opened and compared, as before, and count towards ambiguity.
    anna, other_anna, bram = bsns(3, 131)
    _import(ctx, f"{anna},Anna Smit,1980-05-17,3317AB,30",
            f"{bram},Bram Smit,2010-03-01,3317AB,30")
    with ctx.sessions() as session, session.begin():
        session.execute(update(Resident).values(name_key=None))
    m = _match(ctx, name="Anna Smit", postcode="3317AB", huisnummer="30")
    assert (m.subject, m.method) == (ctx.pseudonyms.subject(anna), "name+address")
    # A second Anna, imported now (with a key), beside the keyless first: ambiguous.
    _import(ctx, f"{other_anna},Anna Smit,1990-01-01,3317AB,30")
    m = _match(ctx, name="Anna Smit", postcode="3317AB", huisnummer="30")
    assert (m.subject, m.method) == (None, "ambiguous")


def test_residents_imported_before_name_keys_get_them_after_the_upgrade(ctx, monkeypatch):
    # Alembic has no keys: every hub command's start (hub_context) keys them.
    people = bsns(5, 151)
    _import(ctx, f"{people[0]},Truus de Wit,1931-02-02,3317AB,60",
            *(f"{bsn},Bewoner {n},1930-01-01,3317AB,60" for n, bsn in enumerate(people[1:])))
    with ctx.sessions() as session, session.begin():
        session.execute(update(Resident).values(name_key=None))
    assert key_all_legacy_names(ctx) == 5
    assert key_all_legacy_names(ctx) == 0
    keys = {r.subject: r.name_key for r in _residents(ctx).values()}
    assert keys[ctx.pseudonyms.subject(people[0])] == ctx.pseudonyms.name_key("truus de wit")
    opened = _counting_opens(ctx, monkeypatch)
    m = _match(ctx, name="Truus de Wit", postcode="3317AB", huisnummer="60")
    assert m.subject == ctx.pseudonyms.subject(people[0])
    assert opened == [f"resident:{ctx.pseudonyms.subject(people[0])}"]


def test_every_hub_command_keys_the_names_of_residents_imported_before(tmp_path, monkeypatch):
    from hub.cli.common import hub_context

    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "var"))
    first = hub_context()
    try:
        (bsn,) = bsns(1, 161)
        _import(first, f"{bsn},Anna Smit,1980-05-17,3317AB,70")
        with first.sessions() as session, session.begin():
            session.execute(update(Resident).values(name_key=None))
    finally:
        first.dispose()
    again = hub_context()
    try:
        (resident,) = _residents(again).values()
        assert resident.name_key == again.pseudonyms.name_key("anna smit")
    finally:
        again.dispose()


def test_a_renamed_resident_is_found_by_the_new_name_only(ctx):
    (bsn,) = bsns(1, 141)
    _import(ctx, f"{bsn},Anna Smit,1980-05-17,3317AB,50")
    _import(ctx, f"{bsn},Anna de Boer,1980-05-17,3317AB,50")
    m = _match(ctx, name="Anna de Boer", postcode="3317AB", huisnummer="50")
    assert (m.subject, m.method) == (ctx.pseudonyms.subject(bsn), "name+address")
    m = _match(ctx, name="Anna Smit", postcode="3317AB", huisnummer="50")
    assert (m.subject, m.method) == (None, "unmatched")


def test_unknown_subject_goes_to_the_wijk_of_the_address(ctx):
    known, stranger = bsns(2, 61)
    _import(ctx, f"{known},Anna de Vries,1980-05-17,3317AB,12")
    m = _match(ctx, name="Onbekende Bewoner", postcode="3322GH", huisnummer="9")
    assert (m.subject, m.household_id, m.wijk, m.method) == (None, None, "crabbehof", "unmatched")
    unknown = ctx.pseudonyms.subject(stranger)
    m = _match(ctx, subject=unknown, postcode="3312AA", huisnummer="1")
    assert (m.subject, m.household_id, m.wijk, m.method) == (
        unknown, None, "binnenstad-noordflank", "unmatched")
    m = _match(ctx, name="Onbekende Bewoner", postcode="1011AB", huisnummer="9")
    assert (m.wijk, m.method) == (None, "unmatched")


def test_no_bsn_or_name_in_clear_anywhere_in_the_database(ctx):
    bsn, housemate = bsns(2, 71)
    name = "Zwaantje Kievitsbloem"
    _import(ctx, f"{bsn},{name},1966-06-16,3317AB,12",
            f"{housemate},Kees Kievitsbloem,1964-04-14,3317AB,12")
    # Matching reads the identity back: the data is there, only not in clear.
    assert _match(ctx, name=name, postcode="3317AB", huisnummer="12").method == "name+address"

    everything = MetaData()
    with ctx.engine.connect() as conn:
        everything.reflect(conn)
        dump = "\n".join(repr(tuple(row)) for table in everything.sorted_tables
                         for row in conn.execute(select(table)))
    assert "residents" in everything.tables and "households" in everything.tables
    assert ctx.pseudonyms.subject(bsn) in dump  # the dump does contain the residents
    for secret in (bsn, housemate, name, "Zwaantje", "Kievitsbloem", "kievitsbloem",
                   "1966-06-16"):
        assert secret not in dump, secret


@pytest.mark.parametrize("name", ["Bewoner 12", "J.  de Vries", " ANNA-LENA  O'Neil ",
                                  "Anaïs van der Berg", "ﬁne Straße", "Ølsen\tÅberg"])
def test_a_name_normalises_the_same_with_or_without_the_ascii_shortcut(name):
    import unicodedata

    from hub.core.search import normalize_name

    # The full walk, as normalize_name did it for every name before its ASCII shortcut.
    plain = "".join(c for c in unicodedata.normalize("NFKD", name)
                    if not unicodedata.combining(c))
    assert normalize_name(name) == " ".join(plain.casefold().replace(".", " ").split())
