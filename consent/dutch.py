"""Small pieces of Dutch grammar for texts residents and regisseurs read.

Here rather than in ``hub`` so that the registry's own explanations
(:mod:`consent.explain`) can use them too; the hub and its plugins reach them
through :mod:`hub.core.dutch`.
"""

from __future__ import annotations


def count(n: int, singular: str, plural: str) -> str:
    """``n`` with the word that fits it: ``count(1, "maand", "maanden")`` is "1 maand".

    Dutch uses the singular for exactly one and the plural for everything else
    (0, 2, 1,5), so "1 maanden" never reaches a reader (issue 13, item 16).
    """
    return f"{n} {singular if n == 1 else plural}"
