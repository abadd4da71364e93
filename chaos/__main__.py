"""``make chaos``: python -m chaos [--short] [--rate N] [--only NAME ...]"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

# This tree's code, even when the venv's warden.pth points at another checkout: the suite
# migrates the databases with the same code the services it starts run.
_REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_REPO), str(_REPO / "cli"), str(_REPO / "shared")] + [
    str(_REPO / "services" / name) for name in ("intake", "routing", "decision", "notify")]

from chaos.config import full_config, short_config  # noqa: E402
from chaos.report import render_table  # noqa: E402
from chaos.run import run_suite  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--short", action="store_true",
                        help="the short form the test suite runs (three faults, lower rate)")
    parser.add_argument("--rate", type=float, default=None, help="reports per second")
    parser.add_argument("--only", action="append", default=[],
                        help="run only faults whose name contains this (repeatable)")
    args = parser.parse_args()
    config = short_config() if args.short else full_config()
    if args.rate:
        config.rate = args.rate
    if args.only:
        for scenario in config.scenarios:
            scenario.faults = [f for f in scenario.faults
                               if any(word in f.name for word in args.only)]
        config.scenarios = [s for s in config.scenarios if s.faults]
    runner, out = asyncio.run(run_suite(config))
    print()
    print(render_table(runner.results, runner.tallies))
    print(f"\nresults: {out}")
    return 0 if runner.results and all(r.passed for r in runner.results) else 1


if __name__ == "__main__":
    sys.exit(main())
