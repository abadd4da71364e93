"""A detector's signal: a classifier score or a hash match."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from warden.intake.channels.fields import (
    CategoryCode,
    ExternalId,
    Identifier,
    Label,
    ReportedItem,
    Score,
    Strict,
)


# --- automated ----------------------------------------------------------------------------

class Detector(Strict):
    name: Identifier
    version: Label


class HashMatch(Strict):
    hash_list: Identifier = Field(description="the list matched, e.g. a hash-sharing database")
    algorithm: Label = Field(
        description="pdq, pdna, md5, ...")
    reference: Identifier = Field(description="the matched entry")


class AutomatedSignal(Strict):
    """A classifier score or hash match (needs at least one of ``score`` and ``match``)."""

    channel: Literal["automated"]
    signal_id: ExternalId | None = None
    detector: Detector
    content: ReportedItem
    category: CategoryCode
    score: Score | None = None
    threshold: Score | None = None
    match: HashMatch | None = None
