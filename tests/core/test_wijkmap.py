"""The wijk map: the shipped Dordrecht map, lookups, and refusing incoherent files."""

from __future__ import annotations

import pytest

from hub.core.wijkmap import WijkMapError, load_wijkmap

SLUGS = {"crabbehof", "wielwijk", "krispijn", "binnenstad-noordflank", "reeland-staart",
         "stadspolders-dubbeldam", "sterrenburg"}


def test_shipped_map_has_the_seven_wijken_of_dordrecht():
    wijkmap = load_wijkmap()
    assert set(wijkmap.wijken) == SLUGS
    assert wijkmap.name("binnenstad-noordflank") == "Binnenstad/Noordflank"
    assert wijkmap.name("stadspolders-dubbeldam") == "Stadspolders/Dubbeldam"


def test_shipped_map_covers_every_area_from_3311_to_3329_exactly_once():
    wijkmap = load_wijkmap()
    listed = [area for wijk in wijkmap.wijken.values() for area in wijk.postcodes]
    expected = [str(n) for n in range(3311, 3330)]
    assert sorted(listed) == expected  # each once: no gap, no area in two wijken
    assert sorted(wijkmap.by_area) == expected
    for slug, wijk in wijkmap.wijken.items():
        assert all(wijkmap.by_area[area] == slug for area in wijk.postcodes)


@pytest.mark.parametrize(("postcode", "wijk"), [
    ("3311AA", "binnenstad-noordflank"),
    ("3317AB", "krispijn"),
    ("3320ZZ", "wielwijk"),
    ("3322GH", "crabbehof"),
    ("3325KL", "sterrenburg"),
    ("3329XY", "stadspolders-dubbeldam"),
    ("3316CD", "reeland-staart"),
    ("3310AB", None),
    ("3330AB", None),
    ("1011AB", None),
])
def test_wijk_for_a_full_postcode(postcode, wijk):
    assert load_wijkmap().wijk_for(postcode) == wijk


def test_another_map_file_is_read(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('[wijken.noord]\nname = "Noord"\npostcodes = ["1011", "1012"]\n')
    wijkmap = load_wijkmap(path)
    assert set(wijkmap.wijken) == {"noord"}
    assert wijkmap.wijk_for("1012AB") == "noord"
    assert wijkmap.wijk_for("3317AB") is None


@pytest.mark.parametrize(("text", "place", "why"), [
    ('[wijken.Crabbehof]\npostcodes = ["3321"]\n', "wijken.Crabbehof", "slug"),
    ('[wijken.crabbe_hof]\npostcodes = ["3321"]\n', "wijken.crabbe_hof", "slug"),
    ('[wijken.a]\npostcodes = ["3321"]\n[wijken.b]\npostcodes = ["3322", "3321"]\n',
     "wijken.b.postcodes", "3321 is already in a"),
    ('[wijken.a]\npostcodes = ["3321", "3321"]\n', "wijken.a.postcodes", "already in a"),
    ('[wijken.a]\npostcodes = ["332"]\n', "wijken.a.postcodes", "'332' is not a four-digit"),
    ('[wijken.a]\npostcodes = ["3321AB"]\n', "wijken.a.postcodes", "four-digit"),
    ('[wijken.a]\npostcodes = ["0321"]\n', "wijken.a.postcodes", "four-digit"),
    ('[wijken.a]\npostcodes = [3321]\n', "wijken.a.postcodes", "four-digit"),
    ('[wijken.a]\npostcodes = []\n', "wijken.a.postcodes", "non-empty"),
    ('[wijken.a]\nname = "A"\n', "wijken.a.postcodes", "non-empty"),
    ("", "map.toml", "no wijken"),
    ("[wijken]\n", "map.toml", "no wijken"),
    ("[wijken.a\n", "map.toml", "not valid TOML"),
    ('wijken = "crabbehof"\n', "map.toml: wijken", "table"),
    ("[wijken]\ncrabbehof = 3321\n", "wijken.crabbehof", "table"),
])
def test_incoherent_map_names_the_place(tmp_path, text, place, why):
    path = tmp_path / "map.toml"
    path.write_text(text)
    with pytest.raises(WijkMapError) as info:
        load_wijkmap(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert place in message and why in message, message


def test_each_shipped_wijk_says_how_to_reach_its_wijkteam():
    # Shown on /mijn (issue 15, item 12); the shipped values are example data.
    for wijk in load_wijkmap().wijken.values():
        assert wijk.phone and wijk.phone.startswith("078"), wijk.slug
        assert wijk.visit and wijk.visit.endswith("Dordrecht"), wijk.slug


@pytest.mark.parametrize("line", ['phone = ""', "phone = 78", 'visit = "  "', "visit = []"])
def test_a_contact_detail_must_be_text(tmp_path, line):
    path = tmp_path / "map.toml"
    path.write_text(f'[wijken.oost]\nname = "Oost"\npostcodes = ["1234"]\n{line}\n')
    with pytest.raises(WijkMapError, match=r"wijken\.oost\.(phone|visit): must be a non-empty"):
        load_wijkmap(path)


def test_contact_details_are_optional(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('[wijken.oost]\nname = "Oost"\npostcodes = ["1234"]\n')
    assert load_wijkmap(path).wijken["oost"].phone is None
