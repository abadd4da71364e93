"""Exponential backoff with jitter, used by consumer retries and webhook redelivery."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, *, initial: float, maximum: float,
                  rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` (1-based): uniform in [c/2, c] where c = min(max, initial*2^(n-1)).

    Jitter spreads retries of many clients over time instead of synchronising them.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    ceiling = min(maximum, initial * (2 ** (attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)
