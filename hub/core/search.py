"""Search tokens for the caseload: names and addresses found without opening them (issue 17).

Names and addresses are sealed at rest, so a search cannot read them. Instead each
searchable word of a resident's registry entry is stored as a keyed hash
(:meth:`hub.core.crypto.Pseudonymizer.search_token`) in ``search_tokens`` when the
registry is imported: every name part, every word of the street and the place, the
postcode, the house number. A search normalises and hashes the words it is given
the same way and looks the tokens up with one indexed query. No identity is opened
to search, so the cost does not grow with the registry (only with the matches),
and without the key a token says nothing.

The price: whole words only (``jans`` does not find ``Jansen``), and a street
written as two words in the registry is found by each of them. Case, accents,
dots and spaces in a postcode do not matter.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hub.core.address import normalize_huisnummer, normalize_postcode
from hub.core.context import HubContext
from hub.core.models import SearchToken

# Words a person or street is found by; a single letter finds half the registry.
MIN_WORD = 2
MAX_TERMS = 8
_POSTCODE = re.compile(r"\b(\d{4})\s?([a-zA-Z]{2})\b")
_NUMBER = re.compile(r"^\d+")
# "12 a" is house number 12A, as the registry normalises it.
_NUMBER_LETTER = re.compile(r"\b(\d+)\s+([a-zA-Z])\b")
NAME_FIELDS = ("name",)
WORD_FIELDS = ("name", "street", "place")


def normalize_name(name: str) -> str:
    """Case, accents and spacing do not make a different person."""
    if not name.isascii():
        # ASCII has no accents and NFKD leaves it as it is: only other text pays the
        # walk over every character (routing matches two names per message, issue 14).
        decomposed = unicodedata.normalize("NFKD", name)
        name = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(name.casefold().replace(".", " ").split())


def _words(text: str | None) -> list[str]:
    # Letters and digits only: punctuation neither finds nor hides anyone.
    return [w for w in re.findall(r"[^\W_]+", normalize_name(text or "")) if len(w) >= MIN_WORD]


def identity_words(identity: dict) -> set[tuple[str, str]]:
    """The ``(field, word)`` pairs a resident is found by: name parts, street and place
    words, postcode and house number (each as the registry normalised them)."""
    pairs = {("name", w) for w in _words(identity.get("name"))}
    pairs |= {("street", w) for w in _words(identity.get("street"))}
    pairs |= {("place", w) for w in _words(identity.get("place"))}
    if identity.get("postcode"):
        pairs.add(("postcode", identity["postcode"]))
    if identity.get("huisnummer"):
        pairs.add(("huisnummer", identity["huisnummer"]))
    return pairs


def index_resident(*, session: Session, ctx: HubContext, subject: str, household_id: str,
                   identity: dict) -> None:
    """Replace the resident's search tokens, in the caller's transaction."""
    session.execute(delete(SearchToken).where(SearchToken.subject == subject))
    for field, word in sorted(identity_words(identity)):
        session.add(SearchToken(token=ctx.pseudonyms.search_token(field, word),
                                kind="name" if field in NAME_FIELDS else "address",
                                household_id=household_id, subject=subject))


@dataclass(frozen=True)
class Term:
    """One word of a search: the tokens that would match it (any of them)."""

    tokens: frozenset[str]


def parse_query(ctx: HubContext, q: str) -> list[Term]:
    """The terms of a search text; a household matches when every term matches.

    A postcode (``3311 AB`` or ``3311ab``) is one term; a word starting with a digit
    is a house number (``12``, ``12a``, ``12-1``); any other word is a name part, a
    street word or a place word. At most :data:`MAX_TERMS` terms are used.
    """
    terms: list[Term] = []
    rest = q
    for match in _POSTCODE.finditer(q):
        try:
            postcode = normalize_postcode(match.group(1) + match.group(2))
        except ValueError:
            continue
        terms.append(Term(frozenset({ctx.pseudonyms.search_token("postcode", postcode)})))
        rest = rest.replace(match.group(0), " ")
    rest = _NUMBER_LETTER.sub(r"\1\2", rest)
    for word in re.split(r"[\s,]+", rest):
        if not word:
            continue
        if _NUMBER.match(word):
            try:
                number = normalize_huisnummer(word)
            except ValueError:
                continue
            terms.append(Term(frozenset({ctx.pseudonyms.search_token("huisnummer", number)})))
            continue
        for plain in _words(word):
            terms.append(Term(frozenset(ctx.pseudonyms.search_token(f, plain)
                                        for f in WORD_FIELDS)))
    return terms[:MAX_TERMS]


def all_tokens(terms: Iterable[Term]) -> set[str]:
    """Every token of these terms (for one lookup query)."""
    return {token for term in terms for token in term.tokens}
