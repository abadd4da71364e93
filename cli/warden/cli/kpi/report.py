"""Write the KPI report: JSON figures, Markdown with PNG charts, self-contained HTML, one PNG.

The HTML inlines every chart as SVG rendered by vl-convert, so it opens anywhere (a closed
network, a mail attachment) with no script or CDN.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import altair as alt
import vl_convert

from warden.cli.kpi.charts import Chart, build_charts

FORMATS = ("html", "md", "png", "json")


def _spec(chart: alt.TopLevelMixin) -> dict:
    return chart.configure_view(stroke=None).configure(font="DejaVu Sans").to_dict()


def svg(chart: Chart) -> str:
    return vl_convert.vegalite_to_svg(_spec(chart.chart))


def png(chart: alt.TopLevelMixin) -> bytes:
    return vl_convert.vegalite_to_png(_spec(chart), scale=2)


def _window(since: datetime, until: datetime) -> str:
    return f"{since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} UTC"


def _table_md(rows: list[dict]) -> str:
    if not rows:
        return "_no data_"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("–" if r[c] is None else str(r[c]) for c in columns) + " |"
              for r in rows]
    return "\n".join(lines)


def _table_html(rows: list[dict]) -> str:
    if not rows:
        return "<p><em>no data</em></p>"
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('–' if r[c] is None else str(r[c]))}</td>"
                                    for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """
body { font-family: 'DejaVu Sans', sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
section.kpi { margin: 2.5em 0; } .takeaway { font-weight: bold; }
table { border-collapse: collapse; font-size: 0.85em; margin-top: 0.5em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
figure.chart { margin: 0.5em 0; }
"""


def write_report(figures: dict[str, list[dict]], *, since: datetime, until: datetime,
                 fmt: str, output: Path, step: Callable[[str], None] = lambda what: None
                 ) -> list[Path]:
    """Write the report in ``fmt`` to ``output``; returns every file written."""
    output.parent.mkdir(parents=True, exist_ok=True)
    charts = build_charts(figures)
    title = "Warden enforcement KPIs"
    if fmt == "json":
        document = {"title": title, "since": since.isoformat(), "until": until.isoformat(),
                    "figures": figures, "takeaways": {c.kpi: c.takeaway for c in charts}}
        output.write_text(json.dumps(document, indent=2, default=str))
        return [output]
    if fmt == "png":
        step("all charts")
        output.write_bytes(png(alt.vconcat(*(c.chart for c in charts)).resolve_scale(
            color="independent").properties(
            title=alt.TitleParams(f"{title}, {_window(since, until)}", fontSize=18))))
        return [output]
    if fmt == "md":
        written = [output]
        parts = [f"# {title}", "", f"Window: {_window(since, until)}", ""]
        for number, chart in enumerate(charts, 1):
            step(chart.title)
            image = output.with_name(f"{output.stem}-{number:02d}-{chart.kpi}.png")
            image.write_bytes(png(chart.chart))
            written.append(image)
            parts += [f"## {chart.title}", "", f"**{chart.takeaway}**", "",
                      f"![{chart.title}]({image.name})", "", _table_md(figures[chart.kpi]), ""]
        output.write_text("\n".join(parts))
        return written
    if fmt == "html":
        sections = []
        for chart in charts:
            step(chart.title)
            sections.append(
                f'<section class="kpi" id="{chart.kpi}"><h2>{html.escape(chart.title)}</h2>'
                f'<p class="takeaway">{html.escape(chart.takeaway)}</p>'
                f'<figure class="chart" data-kpi="{chart.kpi}">{svg(chart)}</figure>'
                f"{_table_html(figures[chart.kpi])}</section>")
        output.write_text(
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{title}</h1>"
            f"<p>Window: {_window(since, until)}</p>{''.join(sections)}</body></html>")
        return [output]
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
