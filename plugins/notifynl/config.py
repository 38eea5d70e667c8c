"""The NotifyNL plugin's own settings (``HUB_NOTIFYNL_*``), beside the hub's.

The API key is a secret: a ``SecretStr``, never logged, never in a ``repr``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_TEMPLATE = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class NotifySettings(BaseSettings):
    """Where NotifyNL is, the key to sign with, and the template id of each text."""

    model_config = SettingsConfigDict(env_prefix="HUB_NOTIFYNL_", extra="ignore")
    #: The service's base URL (NotifyNL's API; a GOV.UK Notify-compatible one works too).
    base_url: str = Field(default="https://api.notifynl.nl", pattern=r"^https?://\S+$",
                          max_length=500)
    #: The API key as NotifyNL issues it (``name-<service id>-<secret>``).
    api_key: SecretStr | None = None
    template_outreach_sms: str | None = Field(default=None, pattern=_TEMPLATE)
    template_outreach_email: str | None = Field(default=None, pattern=_TEMPLATE)
    template_consent_sms: str | None = Field(default=None, pattern=_TEMPLATE)
    template_consent_email: str | None = Field(default=None, pattern=_TEMPLATE)

    def template(self, purpose: str, channel: str) -> str | None:
        """The template id for ``purpose`` (outreach, consent) over ``channel`` (sms, email)."""
        return getattr(self, f"template_{purpose}_{channel}", None)
