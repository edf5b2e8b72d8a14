"""The small copy of the chart font: charts drawn with it are the charts drawn without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import altair as alt
import pytest
import vl_convert

from cxreports import chartfont, charts, digest, weekly

from .metrics_fixtures import make_logs, utc, varied_rows

#: Agent names from Western, Central and Eastern Europe, Turkey and Vietnam: all in the copies.
LATIN_NAMES = ["Zoë Ødegård", "Łukasz Żółć", "Şükrü Ağa", "Nguyễn Ơn", "O'Brien-Smith"]


@pytest.fixture(scope="module")
def copies() -> frozenset[str]:
    """The copies, ready in this process (the suite's other charts may use them too: they
    draw the same)."""
    assert chartfont.prepare(), "no copies of DejaVu Sans made, or they draw otherwise than it"
    assert chartfont._covered is not None
    return chartfont._covered


@pytest.fixture(scope="module")
def metrics():
    dispositions = ["Résolu", "Escalated → Tier 2", "Callback ≤ 24 h"]
    rows = [
        {**row, "agent_name": LATIN_NAMES[i % 5], "disposition": dispositions[i % 3]}
        for i, row in enumerate(varied_rows(60, 5))
    ]
    return weekly(make_logs(rows), "2026-W13", "UTC", trend_weeks=3, min_volume=1)


def _report_charts(m) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "leaderboard": charts.leaderboard(m.agents, "handled", "Handled"),
        "distribution": charts.distribution(
            m.rows, "first_response_time_s", "First response", threshold_s=60
        ),
        "trend": charts.trend(m.trend, charts.SLA_CSAT_TRENDS),
        "heatmap": charts.heatmap(m.heatmap),
        "mix": charts.mix(m.dispositions, "disposition", "Dispositions"),
        "worst hours": charts.worst_hours(m.hourly),
        "ratings": charts.ratings(m.csat_by_queue, "queue_name", "By queue"),
        "daily": charts.daily_volume(m.daily),
    }


def _spec(chart) -> dict:  # type: ignore[no-untyped-def]
    """The chart's spec as a report draws it: in the reports' theme, which names the font."""
    with alt.theme.enable("cxreports"):
        return chart.to_dict(validate=False)


def _drawn(spec: dict, covered: frozenset[str] | None) -> tuple[str, bool]:
    """The chart's SVG as a report gets it, drawn with the copies or without; and whether
    they were used."""
    saved, chartfont._covered = chartfont._covered, covered
    try:
        return charts._svg(spec)["image/svg+xml"], chartfont.swapped(spec) is not None
    finally:
        chartfont._covered = saved


def test_every_report_chart_drawn_with_the_copies_is_the_same_svg(copies, metrics):
    for name, chart in _report_charts(metrics).items():
        spec = _spec(chart)
        whole, used = _drawn(spec, None)
        copied, used = _drawn(spec, copies)
        assert used, f"{name}: not drawn with the copies (a character outside them?)"
        assert copied == whole, name
        assert chartfont.FAMILY not in copied


def test_the_email_charts_drawn_with_the_copies_are_the_same_png(copies, metrics):
    for spec in (
        digest._daily_spec(metrics),
        digest.chart_spec(charts.trend(metrics.trend, digest.TRENDS)),
    ):
        assert chartfont.swapped(spec) is not None
        whole = vl_convert.vegalite_to_png(spec, scale=digest.PNG_SCALE)
        assert digest._png(spec) == whole


@pytest.mark.parametrize("name", ["Αλέξης Παπαδόπουλος", "Дмитрий", "王小明", "Zoë 🎧"])
def test_a_chart_with_a_character_outside_the_copies_is_drawn_with_the_whole_font(copies, name):
    chart = charts.leaderboard(
        weekly(
            make_logs(
                [
                    {"agent_id": "A1", "agent_name": name, "started_at": utc(2026, 3, 24, 9, 0)},
                    {"agent_id": "A2", "agent_name": "Ann", "started_at": utc(2026, 3, 24, 9, 5)},
                ]
            ),
            "2026-W13",
            "UTC",
            min_volume=1,
        ).agents,
        "handled",
        "Handled",
    )
    spec = _spec(chart)
    assert chartfont.swapped(spec) is None
    assert _drawn(spec, copies) == _drawn(spec, None)


@pytest.mark.parametrize("face", [{"fontStyle": "italic"}, {"fontWeight": 300}])
def test_an_italic_or_light_chart_is_drawn_with_the_whole_font(copies, face):
    # DejaVu Sans has an oblique and a light face; the copies, regular and bold only, would
    # stand in for them with the regular one (the same measures here, other pixels)
    spec = {
        "data": {"values": [{"t": "Handled interactions"}]},
        "mark": {"type": "text", **face},
        "encoding": {"text": {"field": "t"}},
        "config": {"font": charts.FONT},
    }
    assert chartfont.swapped(spec) is None
    assert digest._png(spec) == vl_convert.vegalite_to_png(spec, scale=digest.PNG_SCALE)
    bold = {**spec, "mark": {"type": "text", "fontWeight": "bold"}}
    assert chartfont.swapped(bold) is not None


def test_a_chart_that_names_another_font_is_drawn_as_it_is(copies):
    spec = {"mark": "text", "data": {"values": [{"t": "x"}]}, "encoding": {"text": {"field": "t"}}}
    assert chartfont.swapped(spec) is None
    assert chartfont.swapped({**spec, "config": {"font": "Liberation Serif"}}) is None


def test_only_font_family_attributes_are_named_again():
    svg = f'<text font-family="&quot;{chartfont.FAMILY}&quot;, Arial">{chartfont.FAMILY}</text>'
    assert chartfont.restored(svg) == (
        f'<text font-family="&quot;DejaVu Sans&quot;, Arial">{chartfont.FAMILY}</text>'
    )


_PREPARE = """
import json, sys
from cxreports import chartfont, charts
spec = {"$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "data": {"values": [{"a": "Zoë", "n": 3}]}, "mark": "bar",
        "encoding": {"y": {"field": "a", "type": "nominal"},
                     "x": {"field": "n", "type": "quantitative"}},
        "config": {"font": charts.FONT}}
ready = chartfont.prepare()
print(json.dumps({"ready": ready, "svg": charts._svg(spec)["image/svg+xml"]}))
"""


def _prepare_in(cache: Path | str, n: int = 1, **env: str) -> list[dict]:
    """``prepare`` in ``n`` new processes at once (vl-convert keeps a font it was given for
    the life of its process), with ``cache`` as the user's cache folder."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), **env}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _PREPARE],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            cwd=env.get("HOME"),
        )
        for _ in range(n)
    ]
    out = [run.communicate(timeout=120)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), out
    return [json.loads(o.strip().splitlines()[-1]) for o in out]


@pytest.mark.slow
def test_copies_made_at_once_by_two_processes_and_a_damaged_copy_is_not_used(tmp_path):
    fonts = tmp_path / "cxreports" / "chart-font"
    old, young = fonts / ".making-killed", fonts / ".making-now"  # killed; still making
    for folder in (old, young):
        folder.mkdir(parents=True)
    os.utime(old, (0, 0))
    first, second = _prepare_in(tmp_path, 2)
    assert first["ready"] and second["ready"]
    assert not old.exists() and young.exists()
    [folder] = fonts.glob("[!.]*")
    assert sorted(p.name for p in folder.iterdir()) == [
        "CXChartSans-Bold.ttf",
        "CXChartSans.ttf",
        "covered.txt",
    ]
    assert first["svg"] == second["svg"]
    # half a font file: vl-convert cannot read it, so the test chart comes out different
    damaged = folder / "CXChartSans.ttf"
    damaged.write_bytes(damaged.read_bytes()[:4000])
    [third] = _prepare_in(tmp_path)
    assert not third["ready"]
    assert third["svg"] == first["svg"]


@pytest.mark.slow
def test_a_cache_that_cannot_be_written_leaves_the_whole_font(tmp_path):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    [run] = _prepare_in(blocked)
    assert not run["ready"]
    assert chartfont.FAMILY not in run["svg"] and "DejaVu Sans" in run["svg"]


@pytest.mark.slow
def test_a_relative_cache_folder_is_not_made_where_the_kernel_runs(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    [run] = _prepare_in("cache", HOME=str(home))
    assert run["ready"]
    assert not (home / "cache").exists()  # the kernels run in every report's folder
    assert (home / ".cache" / "cxreports" / "chart-font").is_dir()
