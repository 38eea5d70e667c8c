"""Issue 16: an arrears kind's signal with a deadline (an end of supply) tops the outreach
worklist; a kind file may set the priority itself, within bounds."""

from __future__ import annotations

import pytest

from hub.core.arrears import DEADLINE_PRIORITY, KindFileError, load_kind_file
from hub.core.plugins import load_plugins

KIND = '''
kind = "telecom"
reference = "customer_ref"
[labels]
customer_ref = "klantnummer"
end_date = "datum waarop de aansluiting stopt"
[[signals]]
type = "signal.arrears.telecom"
title = "Achterstand telefoonrekening"
topic = "achterstand op de telefoonrekening"
[[signals]]
type = "signal.end_of_service.telecom"
title = "Telefoon wordt afgesloten"
topic = "afsluiting van de telefoon"
deadline = "end_date"
deadline_text = "aansluiting stopt op"
'''


def test_the_real_end_of_supply_type_comes_before_plain_arrears():
    catalog = load_plugins().catalog
    assert catalog.type("signal.end_of_supply.energy").outreach_priority == DEADLINE_PRIORITY
    assert catalog.type("signal.arrears.energy").outreach_priority == 0
    assert catalog.type("signal.arrears.health_insurance").outreach_priority == 0


def test_a_kind_file_gets_the_deadline_priority_or_sets_its_own(tmp_path):
    path = tmp_path / "telecom.toml"
    path.write_text(KIND, encoding="utf-8")
    types = {t.name: t for t in load_kind_file(path).message_types()}
    assert types["signal.end_of_service.telecom"].outreach_priority == DEADLINE_PRIORITY
    path.write_text(KIND + "outreach_priority = 5\n", encoding="utf-8")
    types = {t.name: t for t in load_kind_file(path).message_types()}
    assert types["signal.end_of_service.telecom"].outreach_priority == 5
    assert types["signal.arrears.telecom"].outreach_priority == 0


def test_a_priority_out_of_bounds_is_refused_naming_the_key(tmp_path):
    path = tmp_path / "telecom.toml"
    path.write_text(KIND + "outreach_priority = -1\n", encoding="utf-8")
    with pytest.raises(KindFileError, match="outreach_priority"):
        load_kind_file(path)
