"""Use cases of the decision service, one module each:

- ``decisions``: a reviewer's decision on a case, and automated decisions routing asks for;
- ``approvals``: four-eyes approval, rejection and expiry of pending decisions;
- ``appeals``: filing an appeal (DSA Art. 20) and deciding it (uphold, reverse, modify);
- ``record``: what every final decision does (statement of reasons, strikes, reversal of the
  decision it replaces, the event downstream tools enforce) and the audit trail of each step.
"""

from __future__ import annotations

from dataclasses import dataclass

from warden.decision.catalogue import Catalogue
from warden.decision.settings import DecisionSettings
from warden.shared.bus.outbox import Outbox


@dataclass(frozen=True)
class DecisionContext:
    catalogue: Catalogue
    settings: DecisionSettings
    outbox: Outbox
