"""``make bench``: every figure of the performance targets in one run, as a table and as JSON.

Intake (one worker against a bare FastAPI endpoint under the same wrk load, p99 at half rate
from the open-loop generator, two workers), routing (one instance and two in one group beside
raw aiokafka), the whole pipeline (sustained rate, report->case latency at a fixed rate) and
the RSS of every service. Writes ``bench-results/bench-<UTC time>.json`` and
``bench-results/latest.json``. The machine's load average before and after is part of the
result: on a shared 2-core box, neighbours' load moves every absolute figure.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_intake  # noqa: E402
import bench_pipeline  # noqa: E402
import bench_routing  # noqa: E402
import lib  # noqa: E402

# (figure, baseline figure or None, target, how the target reads)
TARGETS = [
    ("intake 1 worker, reports/s (wrk, 32 conn.)", "intake_1w_rps", "bare_rps", 0.25, "ratio>="),
    ("intake p99 at half rate, ms (open loop)", "intake_half_rate_p99_ms", None, 50, "<="),
    ("intake 2 workers, reports/s", "intake_2w_rps", "intake_1w_rps", 1.0, "ratio>"),
    ("routing 1 instance, reports/s", "routing_1x_rps", "raw_rps", 2000, ">="),
    ("routing 2 instances, reports/s", "routing_2x_rps", "routing_1x_rps", 1.0, "ratio>"),
    ("pipeline sustained, reports/s", "pipeline_sustained_rps", None, 1000, ">="),
    ("pipeline lost reports", "pipeline_lost", None, 0, "=="),
    ("report->case p50 at fixed rate, ms", "report_to_case_p50_ms", None, 50, "<="),
    ("report->case p99 at fixed rate, ms", "report_to_case_p99_ms", None, 250, "<="),
    ("max service RSS after the run, MB", "max_rss_mb", None, 200, "<="),
    # The load generators' own CPU, % of one core, beside the figures they produced: far
    # below 100 % (and a dispatch lag near 0) says the generator was not the limit.
    ("  wrk CPU, intake runs (max), % of a core", "wrk_cpu_pct", None, 50, "<="),
    ("  open loop CPU, intake p99 phase, %", "open_loop_generator_cpu_pct", None, 50, "<="),
    ("  open loop dispatch lag p99, intake, ms", "open_loop_generator_lag_p99_ms", None, 10,
     "<="),
    ("  wrk CPU, pipeline sustained, % of a core", "pipeline_wrk_cpu_pct", None, 50, "<="),
    ("  open loop CPU, pipeline fixed rate, %", "pipeline_generator_cpu_pct", None, 50, "<="),
    ("  open loop dispatch lag p99, pipeline, ms", "pipeline_generator_lag_p99_ms", None, 10,
     "<="),
]
GENERATOR_SHARES = {"wrk_cpu_pct": "wrk_cpu_share",
                    "open_loop_generator_cpu_pct": "open_loop_generator_cpu_share",
                    "pipeline_wrk_cpu_pct": "pipeline_wrk_cpu_share",
                    "pipeline_generator_cpu_pct": "pipeline_generator_cpu_share"}


def met(value: float, baseline: float | None, target: float, rule: str) -> bool:
    if rule == "ratio>=":
        return baseline is not None and value / baseline >= target
    if rule == "ratio>":
        return baseline is not None and value / baseline > target
    return {"<=": value <= target, ">=": value >= target, "==": value == target}[rule]


def table(figures: dict) -> str:
    lines = [f"{'figure':44} {'value':>9} {'baseline':>9} {'ratio':>6} {'target':>10} met?"]
    for label, key, base_key, target, rule in TARGETS:
        value = figures.get(key)
        if value is None:
            lines.append(f"{label:44} {'-':>9}")
            continue
        baseline = figures.get(base_key) if base_key else None
        ratio = f"{value / baseline:6.2f}" if baseline else f"{'':6}"
        shown = {"ratio>=": f"x{target:g} base", "ratio>": "> base"}.get(rule, f"{rule}{target:g}")
        base = f"{baseline:9.1f}" if baseline is not None else f"{'':9}"
        lines.append(f"{label:44} {value:9.1f} {base} {ratio} {shown:>10} "
                     f"{'yes' if met(value, baseline, target, rule) else 'NO'}")
    return "\n".join(lines)


async def main() -> None:
    figures: dict = {"started_at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(),
                     "load_before": lib.load_average(),
                     "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                              capture_output=True, text=True,
                                              cwd=lib.REPO).stdout.strip()}
    started = time.monotonic()
    print(f"== intake (load average {lib.load_average()})")
    figures.update(await bench_intake.main(seconds=8, connections=32))
    print(f"== routing (load average {lib.load_average()})")
    figures.update(await bench_routing.main())
    print(f"== pipeline (load average {lib.load_average()})")
    figures.update(await bench_pipeline.main())
    figures["max_rss_mb"] = max([*figures["rss_mb"].values(), figures["intake_rss_mb"],
                                 figures["routing_rss_mb"]])
    for pct, share in GENERATOR_SHARES.items():
        if share in figures:
            figures[pct] = 100 * figures[share]
    figures["load_after"] = lib.load_average()
    figures["seconds"] = time.monotonic() - started
    for label, key, base_key, target, rule in TARGETS:
        if key in figures:
            figures.setdefault("targets", {})[key] = {
                "value": figures[key], "baseline": figures.get(base_key) if base_key else None,
                "target": target, "rule": rule,
                "met": met(figures[key], figures.get(base_key) if base_key else None, target,
                           rule)}
    print()
    print(table(figures))
    print(f"\nload average before {figures['load_before']}, after {figures['load_after']} "
          f"({figures['cpus']} CPUs); {figures['seconds']:.0f} s; wrk used at most "
          f"{figures['wrk_cpu_share']:.0%} of a core, the open-loop generator "
          f"{figures['open_loop_generator_cpu_share']:.0%}")
    out = lib.REPO / "bench-results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for path in (out / f"bench-{stamp}.json", out / "latest.json"):
        path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"written: bench-results/bench-{stamp}.json")


if __name__ == "__main__":
    asyncio.run(main())
