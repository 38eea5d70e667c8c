"""The Wmo desk registers like any third-party plugin: through the entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points

from hub.core.plugins import ENTRY_POINT_GROUP, load_plugins


def test_registered_through_the_entry_point_group(monkeypatch):
    monkeypatch.delenv("HUB_DISABLED_PLUGINS", raising=False)
    assert {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}["sdd"] \
        == "plugins.sdd"
    plugins = load_plugins()
    assert {"wmo.decision", "wmo.status"} <= set(plugins.catalog.types)
    described = {p["name"]: p for p in plugins.describe()}
    assert described["sdd"]["module"] == "plugins.sdd"
    paths = {route.path for router in plugins.routers() for route in router.routes}
    assert "/api/v1/wmo/requests" in paths
    # Without the entry points the core knows nothing of the Wmo.
    bare = load_plugins(entry_points=False)
    assert "wmo.decision" not in bare.catalog.types and bare.routers() == []


def test_disabled_it_serves_nothing(monkeypatch):
    monkeypatch.setenv("HUB_DISABLED_PLUGINS", "sdd")
    plugins = load_plugins()
    assert "wmo.decision" not in plugins.catalog.types
    paths = {route.path for router in plugins.routers() for route in router.routes}
    assert not any(path.startswith("/api/v1/wmo") for path in paths)  # other partners' stay
    assert "sdd" not in {p["name"] for p in plugins.describe()}
