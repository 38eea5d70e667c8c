"""Start-up checks that the policy file and the loaded plugins agree."""

from __future__ import annotations

from consent.policy import Policy
from hub.core.plugins import Catalog


class ConfigurationError(RuntimeError):
    """The hub's configuration contradicts itself; the message says where."""


def check_policy_matches_plugins(policy: Policy, catalog: Catalog) -> None:
    """Refuse to start when the policy gives a type another category than its plugin.

    The category decides which consents cover a message; if the two disagreed,
    a consent for one kind of data could carry another.
    """
    for name, mt in sorted(catalog.types.items()):
        type_policy = policy.for_type(name)
        if type_policy is not None and type_policy.category != mt.category:
            raise ConfigurationError(
                f'policy types."{name}".category is {type_policy.category!r} but the plugin '
                f"serving it declares {mt.category!r}")
