"""Plugins: found through the entry-point group, checked on load, isolated from each other."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from hub import hookimpl
from hub.core import hookspecs
from hub.core.address import Address
from hub.core.context import HubContext
from hub.core.plugins import ENTRY_POINT_GROUP, PluginError, load_plugins
from hub.core.types import MessageType
from tests.utils.builders import partner, person, regisseur, register, resident

BUILT_IN_TYPES = {"signal.arrears.rent", "signal.nuisance"}
GARDEN = "signal.test.garden"
REPO = Path(__file__).resolve().parents[2]


class GardenReport(BaseModel):
    """The third-party plugin's own data model."""

    model_config = ConfigDict(extra="forbid")
    plot: str = Field(min_length=1, max_length=20)
    description: str = Field(min_length=1)
    address: Address


def garden_type(name: str = GARDEN) -> MessageType:
    return MessageType(name=name, partner_kinds=("tuinvereniging",), category="wonen",
                       data_model=GardenReport, topic="een melding over een moestuin",
                       summary=lambda data: f"Moestuin {data['plot']} verwaarloosd")


class GardenPlugin:
    """A third-party partner plugin, as it would come from another package."""

    @hookimpl
    def wijkhub_message_types(self) -> list[MessageType]:
        return [garden_type()]


@pytest.fixture
def garden(ctx: HubContext) -> Iterator[GardenPlugin]:
    """The garden plugin registered on the running hub, removed afterwards."""
    plugin = GardenPlugin()
    ctx.plugins.register(plugin, name="tuinvereniging")
    try:
        yield plugin
    finally:
        ctx.plugins.unregister("tuinvereniging")


# --- loading ----------------------------------------------------------------------------


def test_built_in_plugin_comes_through_the_entry_point_group(monkeypatch):
    monkeypatch.delenv("HUB_DISABLED_PLUGINS", raising=False)
    names = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert ENTRY_POINT_GROUP == "wijkhub.plugins"
    assert names.get("woningcorporatie") == "plugins.woningcorporatie"
    plugins = load_plugins()
    assert set(plugins.catalog.types) >= BUILT_IN_TYPES
    assert plugins.pm.get_plugin("woningcorporatie") is not None
    # Nothing but the entry points was loaded: without them there are no types.
    assert load_plugins(entry_points=False).catalog.types == {}


def test_disabled_plugin_is_not_loaded(monkeypatch):
    monkeypatch.setenv("HUB_DISABLED_PLUGINS", " other , woningcorporatie")
    plugins = load_plugins()
    assert not BUILT_IN_TYPES & set(plugins.catalog.types)
    assert plugins.catalog.csv_format_for("woningcorporatie") is None
    assert "woningcorporatie" not in {p["name"] for p in plugins.describe()}


def test_two_plugins_declaring_one_type_clash():
    class First:
        @hookimpl
        def wijkhub_message_types(self):
            return [garden_type()]

    class Second:
        @hookimpl
        def wijkhub_message_types(self):
            return [garden_type()]

    with pytest.raises(PluginError, match=re.escape(GARDEN)):
        load_plugins(extra=(First(), Second()), entry_points=False)


def test_clash_with_a_built_in_type_is_refused_at_registration(ctx):
    class Impostor:
        @hookimpl
        def wijkhub_message_types(self):
            return [garden_type("signal.nuisance")]

    with pytest.raises(PluginError, match=re.escape("signal.nuisance")):
        ctx.plugins.register(Impostor(), name="impostor")


def test_misspelled_hook_is_an_error():
    class Misspelled:
        @hookimpl
        def wijkhub_mesage_types(self):
            return [garden_type()]

    with pytest.raises(PluginError, match="wijkhub_mesage_types"):
        load_plugins(extra=(Misspelled(),), entry_points=False)


def test_a_failing_plugin_does_not_stop_the_others():
    class Broken:
        @hookimpl
        def wijkhub_message_types(self):
            raise RuntimeError("this partner's plugin is broken")

    plugins = load_plugins(extra=(Broken(), GardenPlugin()), entry_points=False)
    assert set(plugins.catalog.types) == {GARDEN}
    plugins = load_plugins(extra=(GardenPlugin(), Broken()), entry_points=False)
    assert set(plugins.catalog.types) == {GARDEN}


def test_every_hook_is_documented():
    hooks = [(name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(fn, "wijkhub_spec")]
    assert hooks, "hookspecs defines no hooks"
    for name, fn in hooks:
        assert name.startswith("wijkhub_"), name
        assert (fn.__doc__ or "").strip(), f"{name} has no docstring"
        assert inspect.signature(fn).return_annotation is not inspect.Signature.empty, name
    # A function without the marker is not a hook pluggy knows: every function there is one.
    assert {name for name, _ in hooks} == {
        name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if fn.__module__ == hookspecs.__name__}


def test_hub_plugins_lists_the_built_in_partner():
    env = {k: v for k, v in os.environ.items() if k != "HUB_DISABLED_PLUGINS"}
    result = subprocess.run([sys.executable, "-m", "hub.cli", "plugins"], capture_output=True,
                            text=True, env=env, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("woningcorporatie"))
    assert "signal.arrears.rent" in line and "signal.nuisance" in line

    env["HUB_DISABLED_PLUGINS"] = "woningcorporatie"
    result = subprocess.run([sys.executable, "-m", "hub.cli", "plugins"], capture_output=True,
                            text=True, env=env, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "woningcorporatie" not in result.stdout
    assert "signal.arrears.rent" not in result.stdout


# --- a third-party type through the unchanged core ---------------------------------------


def garden_message(who, *, ref: str) -> dict:
    return {"type": GARDEN, "source_ref": ref,
            "subject": {"name": who.name, "postcode": who.postcode,
                        "huisnummer": who.huisnummer},
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"plot": "17B", "description": "Tuin al maanden niet bijgehouden",
                     "address": {"postcode": who.postcode, "huisnummer": who.huisnummer}}}


def test_third_party_type_is_routed_by_the_core(ctx, client, worker, garden):
    assert ctx.policy.for_type(GARDEN) is None  # no policy entry: consent is needed
    anna = person(40)
    register(ctx, anna)
    _, tuin = partner(ctx, name="Volkstuin De Eendracht", kind="tuinvereniging")
    _, woonbron = partner(ctx)
    staff, me = regisseur(ctx), resident(ctx, anna)

    # Only the kind the plugin names may send its type, and only valid data passes.
    refused = client.post("/api/v1/messages", json=garden_message(anna, ref="T-0"),
                          headers=woonbron)
    assert refused.status_code == 403, refused.text
    bad = garden_message(anna, ref="T-0")
    bad["data"]["plot"] = ""
    assert client.post("/api/v1/messages", json=bad, headers=tuin).status_code == 422

    r = client.post("/api/v1/messages", json=garden_message(anna, ref="T-1"), headers=tuin)
    assert r.status_code == 202, r.text
    assert worker.drain() == 1
    assert client.get("/api/v1/inbox", headers=staff).json()["total"] == 0

    requests = client.get("/api/v1/me/requests", headers=me).json()
    assert len(requests) == 1, requests
    assert "Volkstuin De Eendracht" in requests[0]["text"]
    assert requests[0]["category"] == "wonen"
    approved = client.post(f"/api/v1/me/requests/{requests[0]['id']}/approve", headers=me)
    assert approved.status_code == 200, approved.text
    worker.drain()

    page = client.get("/api/v1/inbox", headers=staff).json()
    assert page["total"] == 1, page
    item = page["items"][0]
    assert item["type"] == GARDEN
    assert item["basis"] == "consent"
    assert item["data"]["plot"] == "17B"
