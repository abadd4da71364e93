"""KPI archive and report: a known history produced to real Kafka, every figure by hand."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from tests.integration.ops.kpi_history import EXPECTED, SINCE, UNTIL, history
from warden.cli.app import app
from warden.shared.contracts import topics

runner = CliRunner()
SEEDED: list = []  # the events of the current test's history


async def produce_history(bootstrap: str, prefix: str, events: list) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, event in events:
            await producer.send_and_wait(f"{prefix}{topic}", event.to_bytes(),
                                         key=(event.subject or "").encode())
        await producer.send_and_wait(f"{prefix}{topics.CASES_ROUTED}", b"not json", key=b"x")
    finally:
        await producer.stop()
    return len(events)


@pytest.fixture
def archived(infra, topic_prefix, tmp_path, monkeypatch) -> Path:
    """The history on a fresh topic namespace, archived once."""
    monkeypatch.setenv("WARDEN_KAFKA_BOOTSTRAP", infra.kafka)
    monkeypatch.setenv("WARDEN_TOPIC_PREFIX", topic_prefix)
    archive = tmp_path / "kpi.duckdb"
    monkeypatch.setenv("WARDEN_KPI_ARCHIVE", str(archive))
    events = history()
    monkeypatch.setattr("tests.integration.ops.test_kpi.SEEDED", events, raising=False)
    produced = asyncio.run(produce_history(infra.kafka, topic_prefix, events))
    result = runner.invoke(app, ["kpi", "archive"])
    assert result.exit_code == 0, result.output
    # Every event is archived (the reprocessed copy of R1 too: it has an id of its own; the
    # KPI views count the report once); the record that is not JSON is counted as unreadable.
    assert f"read {produced + 1}, added {produced}, unreadable 1" in result.output
    return archive


def report_json(tmp_path: Path) -> dict:
    output = tmp_path / "report.json"
    result = runner.invoke(app, ["kpi", "report", "--since", SINCE, "--until", UNTIL,
                                 "--format", "json", "--output", str(output)])
    assert result.exit_code == 0, result.output
    return json.loads(output.read_text())


def test_every_kpi_matches_the_hand_counts(archived, tmp_path):
    figures = report_json(tmp_path)["figures"]
    for kpi, expected in EXPECTED.items():
        assert figures[kpi] == expected, kpi
    assert set(figures) == set(EXPECTED)


def test_archiving_again_or_from_the_beginning_never_counts_an_event_twice(archived, tmp_path,
                                                                           infra, topic_prefix):
    before = report_json(tmp_path)
    again = runner.invoke(app, ["kpi", "archive"])
    assert again.exit_code == 0 and "read 0, added 0" in again.output
    replayed = runner.invoke(app, ["kpi", "archive", "--from-beginning"])
    assert replayed.exit_code == 0 and "added 0, unreadable 1" in replayed.output
    assert report_json(tmp_path)["figures"] == before["figures"]
    # New events after the last run are picked up, and only they.
    # The same records produced again (a topic replayed upstream): read, and not counted.
    asyncio.run(produce_history(infra.kafka, topic_prefix, SEEDED))
    replay = runner.invoke(app, ["kpi", "archive"])
    assert "added 0" in replay.output and "read 0" not in replay.output
    assert report_json(tmp_path)["figures"] == before["figures"]


def test_markdown_and_png_reports_carry_every_chart(archived, tmp_path):
    markdown = tmp_path / "review.md"
    result = runner.invoke(app, ["kpi", "report", "--since", SINCE, "--until", UNTIL,
                                 "--format", "md", "--output", str(markdown)])
    assert result.exit_code == 0, result.output
    text = markdown.read_text()
    images = sorted(tmp_path.glob("review-*.png"))
    assert len(images) == 12 and all(f"]({p.name})" in text for p in images)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in images)
    assert "**3 of 5 decided cases within SLA; lowest queue regulatory_legal at 0%.**" in text
    picture = tmp_path / "review.png"
    result = runner.invoke(app, ["kpi", "report", "--since", SINCE, "--until", UNTIL,
                                 "--format", "png", "--output", str(picture)])
    assert result.exit_code == 0, result.output
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_report_shows_its_charts_in_headless_chromium(archived, tmp_path):
    page = tmp_path / "review.html"
    result = runner.invoke(app, ["kpi", "report", "--since", SINCE, "--until", UNTIL,
                                 "--format", "html", "--output", str(page)])
    assert result.exit_code == 0, result.output
    source = page.read_text()
    assert "http://" not in source.replace('http://www.w3.org', '')  # no CDN: self-contained
    screenshot = tmp_path / "review-screen.png"
    chromium = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                "--hide-scrollbars", "--window-size=1200,6000"]
    subprocess.run([*chromium, f"--screenshot={screenshot}", page.as_uri()], check=True,
                   capture_output=True, timeout=120)
    dom = subprocess.run([*chromium, "--dump-dom", page.as_uri()], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    # Chromium parsed one chart (an SVG with drawn marks) per KPI, each under its title.
    assert dom.count('<figure class="chart"') == 12
    assert dom.count("<svg") >= 12 and dom.count("<path") > 50
    assert "Reports per day by channel" in dom and "Time to first action per queue" in dom
    _assert_chart_pixels(screenshot)


def _assert_chart_pixels(screenshot: Path) -> None:
    """The screenshot is not blank: coloured chart marks cover a real part of the page."""
    import vl_convert  # noqa: F401 - ensures the charting stack is importable here

    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, pixels = _decode_png(data)
    coloured = sum(1 for r, g, b in pixels if max(r, g, b) - min(r, g, b) > 60)
    assert coloured > 0.005 * width * height, coloured


def _decode_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    import struct
    import zlib

    pos, chunks = 8, []
    width = height = 0
    colour_type = 2
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, _, colour_type = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    channels = {2: 3, 6: 4}[colour_type]
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytearray(stride)
    pixels = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc
                                      else corner)) & 0xFF
        pixels.extend((line[i], line[i + 1], line[i + 2]) for i in range(0, stride, channels * 8))
        previous = line
    return width, height, pixels
