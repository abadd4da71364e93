"""What a run of the fault suite prints and keeps: the table, and the JSON document of
``chaos-results/chaos-<time>-<form>.json``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from chaos.load import Tally

if TYPE_CHECKING:
    from chaos.run import PhaseResult, Runner

COLUMNS = ("fault", "accepted", "lost", "doubled", "5xx", "of which 503", "no answer",
           "fault lasted s", "recovered after s", "result")


def table_rows(results: list["PhaseResult"], tallies: dict[str, Tally]) -> list[list[str]]:
    rows = []
    for r in results:
        tally = tallies.get(r.fault.name, Tally())
        recover = f"{r.recover_s:.1f}" if r.recover_s is not None else "not recovered"
        rows.append([r.fault.name, str(r.account.accepted), str(r.lost),
                     str(r.account.doubled_total), str(tally.http_5xx), str(tally.http_503),
                     str(tally.refused), f"{r.healed_at - r.injected_at:.1f}", recover,
                     "ok" if r.passed else "FAILED"])
    return rows


def render_table(results: list["PhaseResult"], tallies: dict[str, Tally]) -> str:
    rows = [list(COLUMNS)] + table_rows(results, tallies)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
             for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def results_json(runner: "Runner") -> dict:
    config = runner.config
    phases = []
    for r in runner.results:
        tally = runner.tallies.get(r.fault.name, Tally())
        phases.append({
            "scenario": r.scenario, "fault": r.fault.as_json(), "passed": r.passed,
            "fault_lasted_s": round(r.healed_at - r.injected_at, 2),
            "recovered_after_s": None if r.recover_s is None else round(r.recover_s, 2),
            "restarted_by_suite": r.restarted_by_suite, "error": r.error,
            "last_check_error": r.last_check_error, "last_readiness": r.last_readiness,
            "late_at_timeout": r.late_at_timeout,
            **r.account.as_json(),
            "lost_total": r.lost, "doubled_total": r.account.doubled_total,
            "fault_checks_missing": {k: {"count": len(v), "sample": v[:10]}
                                     for k, v in r.problems.items()},
            "http": dict(sorted(tally.statuses.items())), "http_5xx": tally.http_5xx,
            "http_503": tally.http_503, "no_answer": tally.refused,
            "no_answer_by_kind": dict(sorted(tally.no_answer.items())),
            "reports_given_up_by_client": tally.gave_up,
            "server_error_samples": tally.server_errors,
            "supervisor_events": r.supervisor_events,
        })
    return {"form": config.form, "started_at": runner.started.isoformat(),
            "rate_reports_per_s": config.rate, "reviewers": config.reviewers,
            "timing": config.timing.__dict__, "host_cpus": os.cpu_count(),
            "passed": all(r.passed for r in runner.results), "phases": phases,
            "table": render_table(runner.results, runner.tallies)}
