"""The wijk map: which wijk, and so which wijkteam, serves a postcode."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class WijkMapError(ValueError):
    """The wijk map file is not coherent; the message names the place."""


@dataclass(frozen=True)
class Wijk:
    """One wijk of the municipality and the postcode areas it covers."""

    slug: str
    name: str
    postcodes: tuple[str, ...]
    # How a resident reaches the wijkteam (issue 15, item 12); None when the map
    # does not say. The shipped map's values are marked example data.
    phone: str | None = None
    visit: str | None = None


@dataclass(frozen=True)
class WijkMap:
    """Postcode area (four digits) → wijk."""

    wijken: dict[str, Wijk]
    by_area: dict[str, str]

    def wijk_for(self, postcode: str) -> str | None:
        """The wijk slug for a normalised postcode, or None outside the map."""
        return self.by_area.get(postcode[:4])

    def name(self, slug: str) -> str:
        """The display name of a wijk ("Binnenstad/Noordflank")."""
        return self.wijken[slug].name if slug in self.wijken else slug


def load_wijkmap(path: Path | None = None) -> WijkMap:
    """Read and check a wijk map; None reads the shipped Dordrecht map."""
    if path is None:
        text = resources.files("hub.data").joinpath("wijkmap.toml").read_text()
        source = "wijkmap.toml"
    else:
        text, source = path.read_text(), str(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WijkMapError(f"{source}: not valid TOML: {exc}") from None
    wijken: dict[str, Wijk] = {}
    by_area: dict[str, str] = {}
    tables = doc.get("wijken", {})
    if not isinstance(tables, dict):
        raise WijkMapError(f"{source}: wijken: must be a table of [wijken.<slug>] sections")
    for slug, entry in tables.items():
        where = f"{source}: wijken.{slug}"
        if not _SLUG.match(slug):
            raise WijkMapError(f"{where}: a wijk id must be a lowercase slug like 'crabbehof'")
        if not isinstance(entry, dict):
            raise WijkMapError(f"{where}: must be a table with name and postcodes")
        areas = entry.get("postcodes")
        if not isinstance(areas, list) or not areas:
            raise WijkMapError(f"{where}.postcodes: must be a non-empty list")
        for area in areas:
            if not (isinstance(area, str) and re.fullmatch(r"[1-9][0-9]{3}", area)):
                raise WijkMapError(f"{where}.postcodes: {area!r} is not a four-digit area")
            if area in by_area:
                raise WijkMapError(f"{where}.postcodes: {area} is already in {by_area[area]}")
            by_area[area] = slug
        contact = {}
        for key in ("phone", "visit"):
            value = entry.get(key)
            if value is not None and not (isinstance(value, str) and value.strip()):
                raise WijkMapError(f"{where}.{key}: must be a non-empty text")
            contact[key] = value.strip() if value else None
        wijken[slug] = Wijk(slug=slug, name=str(entry.get("name", slug)), postcodes=tuple(areas),
                            **contact)
    if not wijken:
        raise WijkMapError(f"{source}: no wijken defined")
    return WijkMap(wijken=wijken, by_area=by_area)
