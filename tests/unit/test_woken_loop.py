"""A lingering ``WokenLoop`` runs one round for the wake-ups that come within its linger."""

from __future__ import annotations

import asyncio

from warden.shared.wakeup import WokenLoop

# Nothing listens there: the loop cannot LISTEN and relies on wake() and its poll, as it does
# when the database is away.
UNREACHABLE_DSN = "postgresql://nobody@127.0.0.1:1/none"


async def _rounds_seen_after_five_wake_ups(linger_s: float) -> list[int]:
    """The number of wake-ups each of the first two rounds had seen when it began: five
    wake-ups 20 ms apart follow the first round."""
    woken, rounds = 0, []
    two_rounds = asyncio.Event()

    async def round_() -> float:
        rounds.append(woken)
        if len(rounds) == 2:
            two_rounds.set()
        return 3600.0  # the poll never comes in this test

    loop = WokenLoop(name="test", dsn=UNREACHABLE_DSN, channel="test", round=round_,
                     linger_s=linger_s)
    await loop.start()
    try:
        while not rounds:
            await asyncio.sleep(0.01)
        for _ in range(5):
            woken += 1
            loop.wake()
            await asyncio.sleep(0.02)  # the wake-ups' shape, not a wait for an outcome
        await asyncio.wait_for(two_rounds.wait(), 5)
    finally:
        await loop.stop()
    return rounds[:2]


async def test_wake_ups_within_the_linger_share_one_round():
    assert await _rounds_seen_after_five_wake_ups(linger_s=0.5) == [0, 5]


async def test_without_a_linger_the_first_wake_up_starts_a_round_at_once():
    assert await _rounds_seen_after_five_wake_ups(linger_s=0.0) == [0, 1]
