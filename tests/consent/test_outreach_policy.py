"""The policy's [outreach] section (issue 16): defaults, and refusals naming the place."""

from __future__ import annotations

import pytest

from consent.policy import OutreachRules, PolicyError, load_policy, parse_policy

BASE = """
[statutes.wgs]
title = "Wet gemeentelijke schuldhulpverlening"
enabled = true
retention_days = 90
"""


def test_the_shipped_policy_and_a_policy_without_the_section_have_the_defaults():
    assert load_policy().outreach == OutreachRules(statute="wgs", window_days=7,
                                                   first_contact_days=5)
    assert parse_policy(BASE, source="p.toml").outreach == OutreachRules()


def test_a_municipality_sets_its_own_window_and_due_date():
    policy = parse_policy(BASE + "[outreach]\nwindow_days = 14\nfirst_contact_days = 3\n",
                          source="p.toml")
    assert (policy.outreach.window_days, policy.outreach.first_contact_days) == (14, 3)
    # Switching a statute off keeps the outreach rules.
    assert policy.with_statute_enabled("wgs", False).outreach == policy.outreach


@pytest.mark.parametrize(("section", "where", "problem"), [
    ('statute = "wgx"', "outreach.statute", 'unknown statute "wgx"'),
    ("window_days = 0", "outreach.window_days", "from 1 to 90"),
    ("window_days = true", "outreach.window_days", "from 1 to 90"),
    ('first_contact_days = "5"', "outreach.first_contact_days", "from 1 to 60"),
    ("first_contact_days = 61", "outreach.first_contact_days", "from 1 to 60"),
    ("window = 7", "outreach.window", "unknown key"),
])
def test_a_bad_outreach_section_is_refused_naming_the_place(section, where, problem):
    with pytest.raises(PolicyError) as info:
        parse_policy(BASE + "[outreach]\n" + section + "\n", source="p.toml")
    assert info.value.where == where
    assert problem in info.value.problem
