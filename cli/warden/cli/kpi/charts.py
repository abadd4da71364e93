"""One Altair chart per KPI, each with a title, units on its axes and a one-line takeaway.

Charts are Vega-Lite specifications rendered by vl-convert (no browser, no network): SVG
inlined into the HTML report, PNG for Markdown and for ``--format png``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import altair as alt

WIDTH = 520


@dataclass(frozen=True)
class Chart:
    kpi: str
    title: str
    takeaway: str
    chart: alt.TopLevelMixin


def _data(rows: list[dict]) -> alt.Data:
    return alt.Data(values=rows)


def _titled(chart: alt.Chart, title: str, takeaway: str) -> alt.Chart:
    return chart.properties(title=alt.TitleParams(title, subtitle=takeaway, anchor="start"),
                            width=WIDTH, height=220)


def _empty(rows: list[dict], what: str) -> str | None:
    return f"No {what} in this window." if not rows else None


def _pct(value) -> str:
    return "–" if value is None else f"{value:g}%"


def reports_over_time(rows: list[dict]) -> tuple[str, alt.Chart]:
    totals: dict[str, int] = {}
    per_day: dict[str, int] = {}
    for row in rows:
        totals[row["channel"]] = totals.get(row["channel"], 0) + row["reports"]
        per_day[row["day"]] = per_day.get(row["day"], 0) + row["reports"]
    if rows:
        total = sum(totals.values())
        top = max(totals, key=totals.get)
        busiest = max(per_day, key=per_day.get)
        takeaway = (f"{total} reports; {top} is the largest channel ({100 * totals[top] / total:.0f}%);"
                    f" busiest day {busiest} ({per_day[busiest]}).")
    else:
        takeaway = _empty(rows, "reports")
    chart = alt.Chart(_data(rows)).mark_bar().encode(
        x=alt.X("day:T", title="Day (UTC)", timeUnit="utcyearmonthdate",
                axis=alt.Axis(format="%d %b", tickCount="day", labelAngle=0)),
        y=alt.Y("reports:Q", title="Reports (count)", stack="zero", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("channel:N", title="Channel"),
        tooltip=["day:N", "channel:N", "reports:Q"])
    return takeaway, chart


def reports_by_category(rows: list[dict]) -> tuple[str, alt.Chart]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["category"]] = totals.get(row["category"], 0) + row["reports"]
    takeaway = (f"Most reported category: {max(totals, key=totals.get)} "
                f"({max(totals.values())} of {sum(totals.values())})." if rows
                else _empty(rows, "reports"))
    chart = alt.Chart(_data(rows)).mark_bar().encode(
        y=alt.Y("category:N", title="Category", sort="-x"),
        x=alt.X("sum(reports):Q", title="Reports (count)"),
        color=alt.Color("channel:N", title="Channel"),
        tooltip=["category:N", "channel:N", "reports:Q"])
    return takeaway, chart


def _percentiles(rows: list[dict], key: str, label: str) -> tuple[str, alt.Chart]:
    long = [{key: r[key], "percentile": name, "hours": r[f"{name}_hours"]}
            for r in rows for name in ("p50", "p90")]
    if rows:
        slowest = max(rows, key=lambda r: r["p90_hours"])
        takeaway = (f"Slowest {label}: {slowest[key]} (p90 {slowest['p90_hours']:g} h, "
                    f"p50 {slowest['p50_hours']:g} h).")
    else:
        takeaway = _empty(rows, "acted-on reports")
    chart = alt.Chart(_data(long)).mark_bar().encode(
        y=alt.Y(f"{key}:N", title=label.capitalize()),
        x=alt.X("hours:Q", title="Time to first action (hours)"),
        yOffset="percentile:N",
        color=alt.Color("percentile:N", title="Percentile"),
        tooltip=[f"{key}:N", "percentile:N", "hours:Q"])
    return takeaway, chart


def _rate_bars(rows: list[dict], key: str, value: str, label: str, axis: str,
               takeaway: str) -> tuple[str, alt.Chart]:
    chart = alt.Chart(_data(rows)).mark_bar().encode(
        y=alt.Y(f"{key}:N", title=label),
        x=alt.X(f"{value}:Q", title=axis, scale=alt.Scale(domain=[0, 100])),
        tooltip=[f"{key}:N", f"{value}:Q"])
    return takeaway, chart


def sla(rows: list[dict]) -> tuple[str, alt.Chart]:
    if rows:
        worst = min(rows, key=lambda r: r["compliance_pct"])
        met = sum(r["within_sla"] for r in rows)
        total = sum(r["decided_cases"] for r in rows)
        takeaway = (f"{met} of {total} decided cases within SLA; lowest queue {worst['queue']} "
                    f"at {_pct(worst['compliance_pct'])}.")
    else:
        takeaway = _empty(rows, "decided cases")
    return _rate_bars(rows, "queue", "compliance_pct", "Queue", "Decided within SLA (%)",
                      takeaway)


def legal(rows: list[dict]) -> tuple[str, alt.Chart]:
    takeaway = ("; ".join(f"{r['rule']}: {r['met']} of {r['due']} met ({_pct(r['compliance_pct'])})"
                          for r in rows) + ".") if rows else _empty(rows, "authority orders")
    return _rate_bars(rows, "rule", "compliance_pct", "Rule", "Acted on by the deadline (%)",
                      takeaway)


def backlog(rows: list[dict]) -> tuple[str, alt.Chart]:
    if rows:
        oldest = max(rows, key=lambda r: r["oldest_age_hours"])
        takeaway = (f"{sum(r['open_cases'] for r in rows)} open cases; oldest in {oldest['queue']}"
                    f" ({oldest['oldest_age_hours']:g} h).")
    else:
        takeaway = "No open cases at the end of the window."
    base = alt.Chart(_data(rows)).encode(y=alt.Y("queue:N", title="Queue"))
    bars = base.mark_bar().encode(x=alt.X("open_cases:Q", title="Open cases (count)"),
                                  tooltip=["queue:N", "open_cases:Q", "oldest_age_hours:Q"])
    labels = base.mark_text(align="left", dx=4).encode(
        x="open_cases:Q", text=alt.Text("oldest_age_hours:Q", format=".1f"))
    return takeaway, bars + labels


def appeals(rows: list[dict]) -> tuple[str, alt.Chart]:
    row = rows[0] if rows else {}
    long = [{"rate": "appeal rate", "pct": row.get("appeal_rate_pct")},
            {"rate": "overturn rate", "pct": row.get("overturn_rate_pct")}]
    takeaway = (f"{row.get('appealed', 0)} of {row.get('decisions', 0)} decisions appealed "
                f"({_pct(row.get('appeal_rate_pct'))}); {row.get('overturned', 0)} overturned "
                f"({_pct(row.get('overturn_rate_pct'))} of appeals).")
    return _rate_bars(long, "rate", "pct", "", "Share (%)", takeaway)


def _shares(rows: list[dict], key: str, label: str, what: str) -> tuple[str, alt.Chart]:
    takeaway = (f"{rows[0][key]} leads with {rows[0]['decisions']} of "
                f"{sum(r['decisions'] for r in rows)} decisions ({_pct(rows[0]['share_pct'])})."
                if rows else _empty(rows, what))
    chart = alt.Chart(_data(rows)).mark_bar().encode(
        y=alt.Y(f"{key}:N", title=label, sort="-x"),
        x=alt.X("decisions:Q", title="Decisions (count)"),
        tooltip=[f"{key}:N", "decisions:Q", "share_pct:Q"])
    return takeaway, chart


def four_eyes(rows: list[dict]) -> tuple[str, alt.Chart]:
    row = rows[0] if rows else {}
    long = [{"outcome": "approved", "decisions": row.get("reviewed", 0) - row.get("rejected", 0)},
            {"outcome": "rejected", "decisions": row.get("rejected", 0)}]
    takeaway = (f"{row.get('rejected', 0)} of {row.get('reviewed', 0)} decisions sent for a second"
                f" opinion were rejected ({_pct(row.get('rejection_rate_pct'))}).")
    chart = alt.Chart(_data(long)).mark_bar().encode(
        y=alt.Y("outcome:N", title="Second reviewer"),
        x=alt.X("decisions:Q", title="Decisions (count)"), tooltip=["outcome:N", "decisions:Q"])
    return takeaway, chart


def delivery(rows: list[dict]) -> tuple[str, alt.Chart]:
    if rows:
        worst = min(rows, key=lambda r: r["success_pct"])
        takeaway = (f"Lowest delivery success: {worst['audience']} at {_pct(worst['success_pct'])}"
                    f" (p90 latency {worst['p90_seconds'] if worst['p90_seconds'] is not None else '–'} s).")
    else:
        takeaway = _empty(rows, "notifications")
    base = alt.Chart(_data(rows)).encode(y=alt.Y("audience:N", title="Audience"))
    success = base.mark_bar().encode(
        x=alt.X("success_pct:Q", title="Delivered (%)", scale=alt.Scale(domain=[0, 100])),
        tooltip=["audience:N", "notifications:Q", "delivered:Q", "success_pct:Q"])
    long = [{"audience": r["audience"], "percentile": p, "seconds": r[f"{p}_seconds"]}
            for r in rows for p in ("p50", "p90") if r[f"{p}_seconds"] is not None]
    latency = alt.Chart(_data(long)).mark_bar().encode(
        y=alt.Y("audience:N", title=None), yOffset="percentile:N",
        x=alt.X("seconds:Q", title="Delivery latency (seconds)"),
        color=alt.Color("percentile:N", title="Percentile"),
        tooltip=["audience:N", "percentile:N", "seconds:Q"])
    return takeaway, alt.hconcat(success.properties(width=WIDTH // 2 - 20, height=200),
                                 latency.properties(width=WIDTH // 2 - 20, height=200))


Builder = Callable[[list[dict]], tuple[str, alt.TopLevelMixin]]

# (kpi, title, builder): the report's charts, in the order a review reads them.
CHARTS: list[tuple[str, str, Builder]] = [
    ("reports_by_channel_over_time", "Reports per day by channel", reports_over_time),
    ("reports_by_category", "Reports by category", reports_by_category),
    ("time_to_first_action_by_queue", "Time to first action per queue (p50/p90)",
     lambda rows: _percentiles(rows, "queue", "queue")),
    ("time_to_first_action_by_channel", "Time to first action per channel (p50/p90)",
     lambda rows: _percentiles(rows, "channel", "channel")),
    ("sla_compliance_by_queue", "SLA compliance per queue", sla),
    ("legal_deadline_compliance", "Legal-deadline compliance of authority orders", legal),
    ("backlog_by_queue", "Backlog per queue at the end of the window (label: oldest age, h)",
     backlog),
    ("appeals", "Appeal and overturn rates", appeals),
    ("action_mix", "Action mix of first decisions",
     lambda rows: _shares(rows, "action", "Action", "decisions")),
    ("automated_vs_human", "Automated versus human decisions",
     lambda rows: _shares(rows, "decided_by", "Decided by", "decisions")),
    ("four_eyes", "Four-eyes reviews: approved versus rejected", four_eyes),
    ("notification_delivery", "Notification delivery success and latency per audience",
     delivery),
]


def build_charts(figures: dict[str, list[dict]]) -> list[Chart]:
    charts = []
    for kpi, title, builder in CHARTS:
        takeaway, chart = builder(figures[kpi])
        if isinstance(chart, alt.HConcatChart):
            chart = chart.properties(title=alt.TitleParams(title, subtitle=takeaway,
                                                           anchor="start"))
        else:
            chart = _titled(chart, title, takeaway)
        charts.append(Chart(kpi, title, takeaway, chart))
    return charts
