"""Arrears partners described in files: a fifth kind of fixed-cost partner without Python.

Every ``*.toml`` file in this package's ``kinds/`` directory, and in the directory
``HUB_ARREARS_KINDS_DIR`` names, describes one kind of creditor (its partner kind,
its reference field, its message types with their Dutch titles, the labels of its
own fields, whether it hears back): see ``docs/plugins.md``. This plugin serves
them all through the core's arrears shape (``hub.plugin.ArrearsKind``). The
health insurer (``zorgverzekeraar``) is built in this way.

A municipality adding a kind also gives its types a basis in the policy file
(``[types."signal.arrears.…"]`` with ``statute = "wgs"`` and the minimal fields);
without it a signal only reaches the wijkteam with the resident's consent.
Files are read once, when the plugin loads: a broken file stops the hub at start
with the file and key named, rather than losing signals later.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.plugin import (
    ArrearsKind,
    CsvFormat,
    ItemStatusEvent,
    MessageType,
    OutboundEnvelope,
    OutboundMessage,
    OutboundRequest,
    PartnerInfo,
    hookimpl,
    load_kind_files,
)

BUILT_IN = Path(__file__).parent / "kinds"


class FixedCostsSettings(BaseSettings):
    """Where a municipality keeps its own partner kinds (``HUB_ARREARS_KINDS_DIR``)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")
    arrears_kinds_dir: Path | None = None


def load_kinds(extra_dir: Path | None = None) -> tuple[ArrearsKind, ...]:
    """The built-in kinds and those in ``extra_dir`` (default: ``HUB_ARREARS_KINDS_DIR``)."""
    extra_dir = extra_dir or FixedCostsSettings().arrears_kinds_dir
    return tuple(load_kind_files(BUILT_IN) + (load_kind_files(extra_dir) if extra_dir else []))


KINDS = load_kinds()
#: Dutch labels for every field of every kind this plugin serves, per kind.
LABELS = {kind.kind: kind.all_labels for kind in KINDS}


@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """Every described kind's signals and status-back types."""
    return [mt for kind in KINDS for mt in kind.message_types()]


@hookimpl
def wijkhub_csv_formats() -> list[CsvFormat]:
    """Every described kind's CSV batch format."""
    return [fmt for kind in KINDS for fmt in kind.csv_formats()]


@hookimpl
def wijkhub_item_status_changed(event: ItemStatusEvent) -> list[OutboundMessage]:
    """Tell the creditor when one of its signals was taken up, refused or closed."""
    return [told for kind in KINDS for told in kind.status_changed(event)]


@hookimpl
def wijkhub_outbound_request(envelope: OutboundEnvelope,
                             partner: PartnerInfo) -> OutboundRequest | None:
    """``POST {endpoint}/arrears/{source_ref}/feedback`` with the status; None for others."""
    for kind in KINDS:
        request = kind.outbound_request(envelope, partner)
        if request is not None:
            return request
    return None
