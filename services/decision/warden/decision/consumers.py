"""Event handlers of the decision service (thin: parse, delegate, persist)."""

from __future__ import annotations

from warden.decision.persistence import upsert_routed_case
from warden.shared.app import Runtime
from warden.shared.bus.consumer import Delivery
from warden.shared.contracts import topics
from warden.shared.contracts.events import CASE_ROUTED_V1


async def on_case_routed(delivery: Delivery) -> None:
    await upsert_routed_case(delivery.session, delivery.payload)


def wire(runtime: Runtime) -> None:
    runtime.consumers.append(
        runtime.consumer("cases", [topics.CASES_ROUTED], {CASE_ROUTED_V1: on_case_routed})
    )
