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


def _duration(hours: float) -> str:
    """A time a lead reads at a glance: minutes under an hour, days past two."""
    if hours < 1:
        return f"{hours * 60:.0f} min" if hours * 60 >= 1 else f"{hours * 3600:.0f} s"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


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
        x=alt.X("sum(reports):Q", title="Reports (count)", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("channel:N", title="Channel"),
        tooltip=["category:N", "channel:N", "reports:Q"])
    return takeaway, chart


def _time_unit(longest_hours: float) -> tuple[str, float]:
    """The unit a time axis reads best in, and the factor from hours: a team acting within
    minutes should not read "0.1" hours off the axis, nor a backlog of weeks "300"."""
    if longest_hours < 1 / 60:
        return "seconds", 3600.0
    if longest_hours < 1:
        return "minutes", 60.0
    if longest_hours < 72:
        return "hours", 1.0
    return "days", 1 / 24


def _percentiles(rows: list[dict], key: str, label: str) -> tuple[str, alt.Chart]:
    unit, factor = _time_unit(max((r["p90_hours"] or 0 for r in rows), default=0))
    long = [{key: r[key], "percentile": name, unit: round(r[f"{name}_hours"] * factor, 2)}
            for r in rows for name in ("p50", "p90")]
    if rows:
        slowest = max(rows, key=lambda r: r["p90_hours"])
        takeaway = (f"Slowest {label}: {slowest[key]} (p90 {_duration(slowest['p90_hours'])}, "
                    f"p50 {_duration(slowest['p50_hours'])}).")
    else:
        takeaway = _empty(rows, "acted-on reports")
    chart = alt.Chart(_data(long)).mark_bar().encode(
        y=alt.Y(f"{key}:N", title=label.capitalize()),
        x=alt.X(f"{unit}:Q", title=f"Time to first action ({unit})"),
        yOffset="percentile:N",
        color=alt.Color("percentile:N", title="Percentile"),
        tooltip=[f"{key}:N", "percentile:N", f"{unit}:Q"])
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
        takeaway = (f"All {total} decided cases within SLA." if met == total else
                    f"{met} of {total} decided cases within SLA; lowest queue {worst['queue']} "
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
                    f" ({_duration(oldest['oldest_age_hours'])}).")
    else:
        takeaway = "No open cases at the end of the window."
    labelled = [{**r, "oldest": _duration(r["oldest_age_hours"])} for r in rows]
    base = alt.Chart(_data(labelled)).encode(y=alt.Y("queue:N", title="Queue"))
    bars = base.mark_bar().encode(x=alt.X("open_cases:Q", title="Open cases (count)",
                                              axis=alt.Axis(tickMinStep=1)),
                                  tooltip=["queue:N", "open_cases:Q", "oldest:N"])
    labels = base.mark_text(align="left", dx=4).encode(x="open_cases:Q", text="oldest:N")
    return takeaway, bars + labels


def appeals(rows: list[dict]) -> tuple[str, alt.Chart]:
    row = rows[0] if rows else {}
    long = [{"rate": "appeal rate", "pct": row.get("appeal_rate_pct")},
            {"rate": "overturn rate", "pct": row.get("overturn_rate_pct")}]
    if not row.get("decisions"):
        takeaway = "No decisions in this window, so nothing to appeal."
    elif not row.get("appealed"):
        takeaway = f"None of the {row['decisions']} decisions was appealed."
    else:
        takeaway = (f"{row['appealed']} of {row['decisions']} decisions appealed "
                    f"({_pct(row.get('appeal_rate_pct'))}); {row.get('overturned', 0)} "
                    f"overturned ({_pct(row.get('overturn_rate_pct'))} of appeals).")
    return _rate_bars(long, "rate", "pct", "", "Share (%)", takeaway)


def _shares(rows: list[dict], key: str, label: str, what: str) -> tuple[str, alt.Chart]:
    total = sum(r["decisions"] for r in rows)
    if not rows:
        takeaway = _empty(rows, what)
    elif len(rows) == 1:
        takeaway = f"All {total} decisions: {rows[0][key]}."
    else:
        takeaway = (f"{rows[0][key]} leads with {rows[0]['decisions']} of {total} decisions "
                    f"({_pct(rows[0]['share_pct'])}); then {rows[1][key]} "
                    f"({_pct(rows[1]['share_pct'])}).")
    chart = alt.Chart(_data(rows)).mark_bar().encode(
        y=alt.Y(f"{key}:N", title=label, sort="-x"),
        x=alt.X("decisions:Q", title="Decisions (count)", axis=alt.Axis(tickMinStep=1)),
        tooltip=[f"{key}:N", "decisions:Q", "share_pct:Q"])
    return takeaway, chart


def four_eyes(rows: list[dict]) -> tuple[str, alt.Chart]:
    row = rows[0] if rows else {}
    long = [{"outcome": "approved", "decisions": row.get("reviewed", 0) - row.get("rejected", 0)},
            {"outcome": "rejected", "decisions": row.get("rejected", 0)}]
    if not row.get("reviewed"):
        takeaway = "No decision went to a second reviewer in this window."
        long = []  # no bars of zero: the chart says it is empty
    else:
        takeaway = (f"{row.get('rejected', 0)} of {row['reviewed']} decisions sent for a second"
                    f" opinion were rejected ({_pct(row.get('rejection_rate_pct'))}).")
    chart = alt.Chart(_data(long)).mark_bar().encode(
        y=alt.Y("outcome:N", title="Second reviewer"),
        x=alt.X("decisions:Q", title="Decisions (count)"), tooltip=["outcome:N", "decisions:Q"])
    return takeaway, chart


def delivery(rows: list[dict]) -> tuple[str, alt.Chart]:
    if rows:
        worst = min(rows, key=lambda r: r["success_pct"])
        timed = [r for r in rows if r["p90_seconds"] is not None]
        slowest = max(timed, key=lambda r: r["p90_seconds"]) if timed else None
        latency = (f"slowest p90 latency {slowest['audience']} at {slowest['p90_seconds']:g} s"
                   if slowest else "no latency measured")
        if worst["success_pct"] == 100:
            takeaway = (f"All {sum(r['notifications'] for r in rows)} notifications delivered "
                        f"to {len(rows)} audiences; {latency}.")
        else:
            takeaway = (f"Lowest delivery success: {worst['audience']} at "
                        f"{_pct(worst['success_pct'])} ({worst['notifications'] - worst['delivered']}"
                        f" of {worst['notifications']} not delivered); {latency}.")
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
    ("backlog_by_queue", "Open cases per queue at the end of the window (label: oldest case's age)",
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
