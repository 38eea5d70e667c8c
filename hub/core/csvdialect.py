"""The CSV that Dutch offices actually export, read as the hub's formats expect.

Excel and most Dutch administrative systems write ``;``-separated files (the comma
is the decimal sign), often with a byte-order mark and capitalised headers such as
``BSN;Naam;…``; others write ``,`` or tabs. Issue 15, item 5: the hub detects the
separator from the header line, ignores a BOM, case and spaces in the header, and
when it still refuses a header it says exactly which columns differ.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

SEPARATORS = (";", ",", "\t")
_SEPARATOR_NAMES = {";": "semicolon", ",": "comma", "\t": "tab"}
# Only with a decimal comma: "1.250" alone could be 1.25 written the English way.
_DUTCH_AMOUNT = re.compile(r"^\d{1,3}(\.\d{3})+,\d{1,2}$|^\d+,\d{1,2}$")


def detect_separator(header_line: str) -> str:
    """The separator of a file, judged by its header line: the most frequent of ``; , tab``.

    A header line without any of them (one column) counts as comma-separated.
    """
    line = header_line.lstrip("\ufeff")
    counts = {sep: line.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def separator_name(separator: str) -> str:
    """``semicolon``, ``comma`` or ``tab``, for messages."""
    return _SEPARATOR_NAMES.get(separator, repr(separator))


def _key(name: str) -> str:
    # "Huis nummer", "HUISNUMMER", " huisnummer" and "huis_nummer" are one column.
    return re.sub(r"[\s_\-]+", "", name.lstrip("\ufeff").casefold())


def match_header(found: Sequence[str], expected: Sequence[str], *, ordered: bool = True,
                 aliases: Mapping[str, str] | None = None,
                 optional: Sequence[str] = ()) -> tuple[str, ...]:
    """The file's columns under the expected names, in the file's order.

    Case, spaces, underscores, hyphens and a BOM do not matter; ``aliases`` maps other
    names (``naam``) to expected ones (``name``). Raises ValueError
    naming what differs — missing, unexpected or repeated columns, or their order
    — never the data (a header line holds names only, but a wrong file's first
    line may be data: at most the column position is named then).
    """
    wanted = {_key(name): name for name in (*expected, *optional)}
    wanted.update({_key(alias): name for alias, name in (aliases or {}).items()})
    mapped: list[str] = []
    unexpected: list[str] = []
    for position, cell in enumerate(found, start=1):
        name = wanted.get(_key(cell))
        if name is None:
            # The cell is never echoed: without a header line it would be a resident's data.
            hint = (f" (expected {expected[position - 1]} there)"
                    if len(found) == len(expected) else "")
            unexpected.append(f"column {position}{hint}")
        else:
            mapped.append(name)
    missing = [name for name in expected if name not in mapped]
    repeated = sorted({name for name in mapped if mapped.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unexpected:
        problems.append(f"unknown {', '.join(unexpected)}")
    if repeated:
        problems.append(f"repeated column(s) {', '.join(repeated)}")
    if not problems and ordered and tuple(mapped) != tuple(expected):
        problems.append("the columns are in another order")
    if problems:
        raise ValueError(f"{'; '.join(problems)}: the header must be "
                         f"{','.join(expected)} (in any case, separated by ; , or tab)")
    return tuple(mapped)


def csv_amount(cell: str) -> str:
    """An amount as a Dutch export writes it (``98,10``, ``1.250,00``, ``€ 98,10``) in the
    hub's form (``98.10``, ``1250.00``); anything else is returned as it is, for the
    amount's own validation to judge."""
    text = cell.strip().removeprefix("€").strip()
    if _DUTCH_AMOUNT.match(text):
        return text.replace(".", "").replace(",", ".")
    return cell
