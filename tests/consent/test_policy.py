"""The policy file: the default parses, an incoherent file is refused with its place."""

from __future__ import annotations

import pytest

from consent.policy import (
    CATEGORIES,
    Policy,
    PolicyError,
    Statute,
    TypePolicy,
    load_policy,
    parse_policy,
)

GOOD = """
[statutes.wgs]
title = "Wet gemeentelijke schuldhulpverlening"
enabled = true
retention_days = 90

[types."signal.arrears.rent"]
category = "financieel"
statute = "wgs"
minimal_fields = ["name", "address"]

[types."signal.nuisance"]
category = "wonen"
"""


def test_categories_are_the_closed_set():
    assert {"financieel", "wonen", "medisch", "zorg", "veiligheid", "werk-inkomen"} == CATEGORIES


def test_default_policy_parses_with_the_expected_types():
    policy = load_policy()
    assert policy.statutes["wgs"] == Statute(
        key="wgs", title="Wet gemeentelijke schuldhulpverlening", enabled=True, retention_days=90
    )
    rent_fields = ("name", "address", "creditor", "amount_eur", "since")
    assert policy.for_type("signal.arrears.rent") == TypePolicy(
        type="signal.arrears.rent", category="financieel", statute="wgs", minimal_fields=rent_fields
    )
    assert policy.for_type("signal.arrears.water") == TypePolicy(
        type="signal.arrears.water",
        category="financieel",
        statute="wgs",
        minimal_fields=rent_fields,
    )
    assert policy.for_type("signal.eviction") == TypePolicy(
        type="signal.eviction",
        category="wonen",
        statute="wgs",
        minimal_fields=("name", "address", "creditor", "eviction_date"),
    )
    assert policy.for_type("signal.nuisance") == TypePolicy(
        type="signal.nuisance", category="wonen", statute=None, minimal_fields=()
    )
    assert policy.for_type("signal.unknown") is None


def test_load_policy_from_a_path(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(GOOD, encoding="utf-8")
    policy = load_policy(path)
    assert set(policy.types) == {"signal.arrears.rent", "signal.nuisance"}
    assert policy.statute_of(policy.types["signal.arrears.rent"]).key == "wgs"
    assert policy.statute_of(policy.types["signal.nuisance"]) is None


def test_load_policy_error_names_the_file(tmp_path):
    path = tmp_path / "gemeente.toml"
    path.write_text('[types."x"]\ncategory = "geld"\n', encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value).startswith(f"{path}: types.x.category: unknown category")


def test_empty_file_is_an_empty_policy():
    policy = parse_policy("", source="empty.toml")
    assert dict(policy.types) == {}
    assert dict(policy.statutes) == {}


def test_with_statute_enabled_returns_a_copy():
    policy = parse_policy(GOOD, source="t")
    off = policy.with_statute_enabled("wgs", False)
    assert off.statutes["wgs"].enabled is False
    assert policy.statutes["wgs"].enabled is True
    assert off.types == policy.types


def test_with_statute_enabled_refuses_an_unknown_statute():
    with pytest.raises(PolicyError, match=r"statutes\.wgx: unknown statute"):
        parse_policy(GOOD, source="t").with_statute_enabled("wgx", False)


def test_policy_cannot_be_changed_in_place():
    policy = parse_policy(GOOD, source="t")
    with pytest.raises(TypeError):
        policy.types["signal.x"] = policy.types["signal.nuisance"]  # type: ignore[index]


def test_policy_copies_the_mappings_it_is_given():
    types = {"signal.nuisance": TypePolicy("signal.nuisance", "wonen", None, ())}
    policy = Policy(statutes={}, types=types)
    types.clear()
    assert "signal.nuisance" in policy.types


def _error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="gemeente.toml")
    return info.value


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


def test_invalid_toml_names_the_line():
    text = _replace('category = "wonen"', "category = wonen")
    line = text.splitlines().index("category = wonen") + 1
    err = _error(text)
    assert str(err).startswith("gemeente.toml: not valid TOML: ")
    assert f"at line {line}," in str(err)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            _replace('statute = "wgs"', 'statute = "wgx"'),
            'types."signal.arrears.rent".statute: unknown statute "wgx"',
            id="unknown-statute",
        ),
        pytest.param(
            _replace('category = "financieel"', 'category = "geld"'),
            'types."signal.arrears.rent".category: unknown category "geld"',
            id="unknown-category",
        ),
        pytest.param(
            _replace('category = "financieel"', 'category = "Financieel"'),
            'types."signal.arrears.rent".category: unknown category "Financieel"',
            id="category-is-case-sensitive",
        ),
        pytest.param(
            _replace('minimal_fields = ["name", "address"]\n', ""),
            'types."signal.arrears.rent".minimal_fields: missing',
            id="statute-without-minimal-fields",
        ),
        pytest.param(
            _replace('category = "wonen"', 'category = "wonen"\nminimal_fields = ["name"]'),
            'types."signal.nuisance".minimal_fields: only allowed on a type with a statute',
            id="minimal-fields-without-statute",
        ),
        pytest.param(
            _replace('minimal_fields = ["name", "address"]', "minimal_fields = []"),
            'types."signal.arrears.rent".minimal_fields: must be a non-empty list',
            id="minimal-fields-empty",
        ),
        pytest.param(
            _replace('minimal_fields = ["name", "address"]', 'minimal_fields = ["name", "name"]'),
            'types."signal.arrears.rent".minimal_fields: a field name is listed twice',
            id="minimal-fields-duplicate",
        ),
        pytest.param(
            _replace('minimal_fields = ["name", "address"]', 'minimal_fields = ["name", ""]'),
            'types."signal.arrears.rent".minimal_fields: every field name must be',
            id="minimal-fields-empty-name",
        ),
        pytest.param(
            _replace('minimal_fields = ["name", "address"]', 'minimal_fields = "name"'),
            'types."signal.arrears.rent".minimal_fields: must be a non-empty list',
            id="minimal-fields-not-a-list",
        ),
        pytest.param(
            _replace("retention_days = 90", "retention_days = 0"),
            "statutes.wgs.retention_days: must be a positive whole number",
            id="retention-zero",
        ),
        pytest.param(
            _replace("retention_days = 90", "retention_days = -5"),
            "statutes.wgs.retention_days: must be a positive whole number",
            id="retention-negative",
        ),
        pytest.param(
            _replace("retention_days = 90", 'retention_days = "90"'),
            "statutes.wgs.retention_days: must be a positive whole number",
            id="retention-string",
        ),
        pytest.param(
            _replace("retention_days = 90", "retention_days = 90.5"),
            "statutes.wgs.retention_days: must be a positive whole number",
            id="retention-float",
        ),
        pytest.param(
            _replace("retention_days = 90", "retention_days = true"),
            "statutes.wgs.retention_days: must be a positive whole number",
            id="retention-bool",
        ),
        pytest.param(
            _replace("retention_days = 90\n", ""),
            "statutes.wgs.retention_days: missing",
            id="retention-missing",
        ),
        pytest.param(
            _replace("enabled = true", 'enabled = "yes"'),
            "statutes.wgs.enabled: must be true or false",
            id="enabled-string",
        ),
        pytest.param(
            _replace("enabled = true", "enabled = 1"),
            "statutes.wgs.enabled: must be true or false",
            id="enabled-int",
        ),
        pytest.param(
            _replace('title = "Wet gemeentelijke schuldhulpverlening"', 'title = ""'),
            "statutes.wgs.title: must be a non-empty string",
            id="title-empty",
        ),
        pytest.param(
            _replace('[types."signal.nuisance"]', '[types.""]'),
            'types."": message type name is empty',
            id="empty-type-name",
        ),
        pytest.param(
            _replace('[types."signal.nuisance"]', '[types."  "]'),
            'types."  ": message type name is empty',
            id="blank-type-name",
        ),
        pytest.param(
            _replace('category = "wonen"', 'category = "wonen"\ncategorie = "wonen"'),
            'types."signal.nuisance".categorie: unknown key',
            id="unknown-type-key",
        ),
        pytest.param(
            _replace("enabled = true", "enabled = true\nretention = 30"),
            "statutes.wgs.retention: unknown key",
            id="unknown-statute-key",
        ),
        pytest.param(
            "[wetten.wgs]\ntitle = 'x'\n" + GOOD,
            "wetten: unknown key",
            id="unknown-top-key",
        ),
        pytest.param(
            _replace('category = "wonen"', ""),
            'types."signal.nuisance".category: missing',
            id="category-missing",
        ),
        pytest.param(
            'types = "signal.nuisance"\n',
            "types: must be a table",
            id="types-not-a-table",
        ),
        pytest.param(
            _replace('statute = "wgs"', "statute = 1"),
            'types."signal.arrears.rent".statute: must be a string',
            id="statute-not-a-string",
        ),
    ],
)
def test_incoherent_policy_is_refused_naming_the_place(text, message):
    err = _error(text)
    assert str(err).startswith(f"gemeente.toml: {message}"), str(err)
    assert isinstance(err, ValueError)
    assert err.source == "gemeente.toml"


# --- the safety basis (meldrecht) ---------------------------------------------

SAFETY = """
[safety.meldrecht]
title = "meldrecht van Veilig Thuis"
enabled = true

[types."safety.report"]
category = "veiligheid"
safety = "meldrecht"
"""


def test_default_policy_has_the_meldrecht_for_safety_reports():
    policy = load_policy()
    report = policy.for_type("safety.report")
    assert (report.category, report.safety, report.statute) == ("veiligheid", "meldrecht", None)
    assert policy.safety_of(report).title == "meldrecht van Veilig Thuis"


@pytest.mark.parametrize(("text", "where", "problem"), [
    (SAFETY.replace('safety = "meldrecht"', 'safety = "meldplicht"'),
     'types."safety.report".safety', 'unknown safety basis "meldplicht"'),
    (SAFETY.replace('category = "veiligheid"', 'category = "wonen"'),
     'types."safety.report".safety', 'only applies to category "veiligheid"'),
    (SAFETY.replace("enabled = true", 'enabled = "ja"'),
     "safety.meldrecht.enabled", "must be true or false"),
    (SAFETY.replace('title = "meldrecht van Veilig Thuis"\n', ""),
     "safety.meldrecht.title", "missing"),
    (SAFETY + 'minimal_fields = ["name"]\n',
     'types."safety.report".minimal_fields', "only allowed on a type with a statute"),
    (GOOD + SAFETY.replace('[types."safety.report"]\ncategory = "veiligheid"\nsafety',
                           '[types."x"]\ncategory = "veiligheid"\nstatute = "wgs"\n'
                           'minimal_fields = ["a"]\nsafety'),
     "types.x.safety", "not both"),
    (SAFETY.replace("enabled = true", "enabled = true\nretention_days = 5"),
     "safety.meldrecht.retention_days", "unknown key"),
])
def test_an_incoherent_safety_basis_is_refused(text, where, problem):
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="p.toml")
    assert info.value.where == where
    assert problem in info.value.problem


@pytest.mark.parametrize("section, what", [("statutes", "statute"),
                                           ("safety", "safety basis")])
def test_a_blank_basis_key_is_refused(section, what):
    error = _error(f'[{section}." "]\ntitle = "x"\nenabled = true\nretention_days = 1\n')
    assert f"{what} key is empty" in str(error)
