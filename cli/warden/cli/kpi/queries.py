"""The KPIs of a review, as SQL over the archive's typed views (``views.sql``).

Every query takes ``$since`` and ``$until`` (a half-open window of UTC times); hours and
seconds are computed from epoch differences so every figure is a plain number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

VIEWS = (Path(__file__).parent / "views.sql").read_text()


@dataclass(frozen=True)
class Kpi:
    name: str
    sql: str


HOURS = "(epoch({end}) - epoch({start})) / 3600.0"

KPIS = [
    Kpi("reports_by_channel_over_time", """
        SELECT strftime(date_trunc('day', received_at), '%Y-%m-%d') AS day, channel,
               count(*) AS reports
        FROM reports WHERE received_at >= $since AND received_at < $until
        GROUP BY ALL ORDER BY day, channel"""),
    Kpi("reports_by_category", """
        SELECT category, channel, count(*) AS reports
        FROM reports WHERE received_at >= $since AND received_at < $until
        GROUP BY ALL ORDER BY reports DESC, category, channel"""),
    Kpi("time_to_first_action_by_queue", f"""
        SELECT d.queue, count(*) AS reports,
               round(quantile_cont({HOURS.format(start='r.received_at', end='r.first_action_at')}, 0.5), 3) AS p50_hours,
               round(quantile_cont({HOURS.format(start='r.received_at', end='r.first_action_at')}, 0.9), 3) AS p90_hours
        FROM report_first_actions r JOIN decided_cases d USING (case_id)
        WHERE r.received_at >= $since AND r.received_at < $until
        GROUP BY ALL ORDER BY d.queue"""),
    Kpi("time_to_first_action_by_channel", f"""
        SELECT channel, count(*) AS reports,
               round(quantile_cont({HOURS.format(start='received_at', end='first_action_at')}, 0.5), 3) AS p50_hours,
               round(quantile_cont({HOURS.format(start='received_at', end='first_action_at')}, 0.9), 3) AS p90_hours
        FROM report_first_actions
        WHERE first_action_at IS NOT NULL AND received_at >= $since AND received_at < $until
        GROUP BY ALL ORDER BY channel"""),
    Kpi("sla_compliance_by_queue", """
        SELECT queue, count(*) AS decided_cases,
               count(*) FILTER (WHERE decided_at <= due_at) AS within_sla,
               round(100.0 * count(*) FILTER (WHERE decided_at <= due_at) / count(*), 1)
                   AS compliance_pct
        FROM decided_cases WHERE decided_at >= $since AND decided_at < $until
        GROUP BY ALL ORDER BY queue"""),
    # Authority orders with a legal deadline; the terrorist-content removal order's one hour
    # from receipt (TCO Regulation Art. 3(3)) is counted separately. An order still open
    # when the window ends counts as missed only once its deadline has passed.
    Kpi("legal_deadline_compliance", """
        WITH orders AS (
            SELECT 'authority orders' AS rule, legal_deadline AS deadline, first_action_at
            FROM report_first_actions WHERE legal_deadline IS NOT NULL
              AND received_at >= $since AND received_at < $until
            UNION ALL
            SELECT 'TCO one-hour rule', received_at + INTERVAL 1 HOUR, first_action_at
            FROM report_first_actions WHERE order_type = 'terrorist_content_removal_order'
              AND received_at >= $since AND received_at < $until)
        SELECT rule,
               count(*) FILTER (WHERE first_action_at IS NOT NULL OR deadline < $until) AS due,
               count(*) FILTER (WHERE first_action_at <= deadline) AS met,
               round(100.0 * count(*) FILTER (WHERE first_action_at <= deadline)
                     / nullif(count(*) FILTER (WHERE first_action_at IS NOT NULL
                                               OR deadline < $until), 0), 1) AS compliance_pct
        FROM orders GROUP BY ALL ORDER BY rule"""),
    # The backlog when the window ends: cases whose last event before then opened them.
    Kpi("backlog_by_queue", f"""
        WITH state AS (
            -- routing's own "decided" announcement closes the case like the decision does
            SELECT case_id, CASE WHEN status = 'open' THEN 'open' ELSE 'decided' END AS kind,
                   queue, routed_at AS happened_at FROM routings
            UNION ALL
            -- any decision closes the case again, a reversal closes its appeal
            SELECT case_id, 'decided', NULL, decided_at FROM decisions),
        last_decided AS (
            SELECT case_id, max(happened_at) AS happened_at FROM state
            WHERE kind = 'decided' AND happened_at < $until GROUP BY case_id),
        latest AS (
            SELECT s.case_id, arg_max(s.kind, s.happened_at) AS kind,
                   arg_max(s.queue, s.happened_at) FILTER (WHERE s.kind = 'open') AS queue,
                   min(s.happened_at) FILTER (WHERE s.kind = 'open' AND (
                       ld.happened_at IS NULL OR s.happened_at > ld.happened_at)) AS opened_at
            FROM state s LEFT JOIN last_decided ld USING (case_id)
            WHERE s.happened_at < $until GROUP BY s.case_id)
        SELECT queue, count(*) AS open_cases,
               round(max({HOURS.format(start='opened_at', end='$until')}), 3) AS oldest_age_hours
        FROM latest WHERE kind = 'open' GROUP BY ALL ORDER BY queue"""),
    Kpi("appeals", """
        WITH decided AS (
            SELECT decision_id FROM first_decisions
            WHERE decided_at >= $since AND decided_at < $until),
        appealed AS (SELECT DISTINCT decision_id FROM appeals),
        reversed AS (SELECT DISTINCT reverses AS decision_id FROM decisions
                     WHERE reverses IS NOT NULL)
        SELECT count(*) AS decisions,
               count(a.decision_id) AS appealed,
               count(r.decision_id) FILTER (WHERE a.decision_id IS NOT NULL) AS overturned,
               round(100.0 * count(a.decision_id) / nullif(count(*), 0), 1) AS appeal_rate_pct,
               round(100.0 * count(r.decision_id) FILTER (WHERE a.decision_id IS NOT NULL)
                     / nullif(count(a.decision_id), 0), 1) AS overturn_rate_pct
        FROM decided d LEFT JOIN appealed a USING (decision_id)
        LEFT JOIN reversed r USING (decision_id)"""),
    Kpi("action_mix", """
        SELECT action, count(*) AS decisions,
               round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS share_pct
        FROM first_decisions WHERE decided_at >= $since AND decided_at < $until
        GROUP BY ALL ORDER BY decisions DESC, action"""),
    Kpi("automated_vs_human", """
        SELECT CASE WHEN automated THEN 'automated' ELSE 'human' END AS decided_by,
               count(*) AS decisions,
               round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS share_pct
        FROM first_decisions WHERE decided_at >= $since AND decided_at < $until
        GROUP BY ALL ORDER BY decided_by"""),
    Kpi("four_eyes", """
        SELECT count(*) AS reviewed,
               count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
               round(100.0 * count(*) FILTER (WHERE outcome = 'rejected')
                     / nullif(count(*), 0), 1) AS rejection_rate_pct
        FROM approvals WHERE happened_at >= $since AND happened_at < $until"""),
    Kpi("notification_delivery", f"""
        SELECT audience, count(*) AS notifications,
               count(*) FILTER (WHERE status = 'delivered') AS delivered,
               round(100.0 * count(*) FILTER (WHERE status = 'delivered') / count(*), 1)
                   AS success_pct,
               round(quantile_cont(3600 * {HOURS.format(start='caused_at', end='finished_at')}, 0.5)
                     FILTER (WHERE status = 'delivered'), 3) AS p50_seconds,
               round(quantile_cont(3600 * {HOURS.format(start='caused_at', end='finished_at')}, 0.9)
                     FILTER (WHERE status = 'delivered'), 3) AS p90_seconds
        FROM deliveries WHERE finished_at >= $since AND finished_at < $until
        GROUP BY ALL ORDER BY audience"""),
]


def compute(connection: duckdb.DuckDBPyConnection, since: datetime, until: datetime
            ) -> dict[str, list[dict]]:
    """Every KPI for the window, as rows of plain values keyed by column name."""
    connection.execute(VIEWS)
    figures = {}
    for kpi in KPIS:
        # DuckDB refuses parameters a statement does not use, so pass only the used ones.
        params = {k: v for k, v in (("since", since), ("until", until)) if f"${k}" in kpi.sql}
        cursor = connection.execute(kpi.sql, params)
        columns = [c[0] for c in cursor.description]
        figures[kpi.name] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return figures
