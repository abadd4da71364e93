"""The one-line takeaway under each chart reads right for the quiet weeks too: no appeals,
no second opinions, one kind of decider, every notification delivered, times under an hour."""

from __future__ import annotations

from warden.cli.kpi import charts


def test_quiet_windows_say_so_instead_of_printing_dashes():
    assert charts.appeals([{"decisions": 33, "appealed": 0, "overturned": 0,
                            "appeal_rate_pct": 0.0, "overturn_rate_pct": None}])[0] == \
        "None of the 33 decisions was appealed."
    assert charts.appeals([])[0] == "No decisions in this window, so nothing to appeal."
    assert charts.four_eyes([{"reviewed": 0, "rejected": 0, "rejection_rate_pct": None}])[0] \
        == "No decision went to a second reviewer in this window."
    assert charts._shares([{"decided_by": "human", "decisions": 33, "share_pct": 100.0}],
                          "decided_by", "Decided by", "decisions")[0] == \
        "All 33 decisions: human."


def test_delivery_names_the_failures_or_that_there_were_none():
    rows = [{"audience": "reporter", "notifications": 46, "delivered": 46, "success_pct": 100.0,
             "p50_seconds": 5.2, "p90_seconds": 7.3},
            {"audience": "authority", "notifications": 8, "delivered": 8, "success_pct": 100.0,
             "p50_seconds": 5.5, "p90_seconds": 7.8}]
    assert charts.delivery(rows)[0] == ("All 54 notifications delivered to 2 audiences; "
                                        "slowest p90 latency authority at 7.8 s.")
    rows[0].update(delivered=40, success_pct=87.0)
    assert charts.delivery(rows)[0].startswith(
        "Lowest delivery success: reporter at 87% (6 of 46 not delivered)")


def test_times_are_in_the_unit_a_lead_reads():
    assert [charts._duration(h) for h in (0.005, 0.5, 3.25, 72)] == [
        "18 s", "30 min", "3.2 h", "3.0 days"]
    rows = [{"queue": "q", "reports": 2, "p50_hours": 0.25, "p90_hours": 0.75}]
    assert charts._percentiles(rows, "queue", "queue")[0] == \
        "Slowest queue: q (p90 45 min, p50 15 min)."


def test_the_time_axis_is_in_the_unit_of_the_slowest_figure():
    def axis(p90_hours: float) -> tuple[str, list[float]]:
        rows = [{"queue": "q", "reports": 2, "p50_hours": p90_hours / 2, "p90_hours": p90_hours}]
        chart = charts._percentiles(rows, "queue", "queue")[1].to_dict()
        field = chart["encoding"]["x"]["field"]
        values = [row[field] for row in chart["data"]["values"]]
        return chart["encoding"]["x"]["title"], values

    assert axis(0.75) == ("Time to first action (minutes)", [22.5, 45.0])
    assert axis(0.005) == ("Time to first action (seconds)", [9.0, 18.0])
    assert axis(5.0) == ("Time to first action (hours)", [2.5, 5.0])
    assert axis(240.0) == ("Time to first action (days)", [5.0, 10.0])
