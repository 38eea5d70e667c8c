"""The Wmo desk plugin's own settings (``HUB_WMO_*``), beside the hub's."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WmoSettings(BaseSettings):
    """How the plugin warns about terms and where it delivers requests."""

    model_config = SettingsConfigDict(env_prefix="HUB_WMO_", extra="ignore")
    #: Flag a request when at most this many working days (Monday to Friday) are left.
    warn_days: int = Field(default=3, ge=0, le=30)
    #: Appended to the desk's endpoint (``hub partner add --endpoint``) for a request.
    request_path: str = Field(default="/wmo/aanvragen", pattern=r"^(/[A-Za-z0-9._~-]+)*$",
                              max_length=200)
