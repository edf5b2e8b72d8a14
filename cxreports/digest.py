"""The email digest of a report week: a small, mail-client-safe body built from the metrics.

Mail clients drop SVG, ``data:`` images and scripts, and Gmail clips bodies over ~100 KB, so
the email is not the notebook HTML: it is headline KPIs and the top agents as inline-styled
tables, two charts as PNG (attached by ``cid:``), and a plain-text twin. The full reports go
along as attachments. A rendered week keeps its digest in ``<week>/email/`` so that sending
needs no data and no kernel.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import vl_convert

from cxreports import charts
from cxreports.exceptions import ParameterError
from cxreports.iorw import write_atomic
from cxreports.mail import EmailBody
from cxreports.metrics import WeeklyMetrics
from cxreports.schema import agent_label
from cxreports.scope import describe as describe_filters
from cxreports.tables import AGENT_KPIS, duration, format_change, format_value

#: Folder of a rendered week that holds the digest.
FOLDER = "email"
# the name rule of cxreports.report: a name read back from digest.json becomes a file name
_REPORT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
#: Agents listed in the email (ranked ones, by volume); the full table is in the attachment.
TOP_AGENTS = 10

_CELL = "padding:4px 10px;border-bottom:1px solid #e2e8f0;font-size:13px;"
_HEAD = _CELL + "text-align:left;color:#475569;font-weight:600;background:#f8fafc;"
_FONT = "font-family:Arial,Helvetica,sans-serif;color:#0f172a;"


def build(metrics: WeeklyMetrics, *, title: str = "Weekly contact-center report") -> EmailBody:
    """The email body of one week (and one recipient scope, if the metrics are filtered).

    Examples
    --------
    >>> from cxreports import load, weekly
    >>> body = build(weekly(load("tests/data/seed_page.json"), "2026-W14"))
    >>> body.subject
    'Weekly contact-center report · 2026-W14 (UTC)'
    >>> sorted(body.images)
    ['daily', 'trend']
    """
    wk = metrics.week
    scope = ", ".join(metrics.params["queues"] + metrics.params["channels"])
    subject = f"{title} · {wk.label} ({wk.tz})" + (f" · {scope}" if scope else "")
    kpis = metrics.kpis.filter(pl.col("metric").is_in(list(AGENT_KPIS)))
    agents = (
        metrics.agents.filter(pl.col("ranked"))
        .sort("handled", descending=True)
        .head(TOP_AGENTS)
        .select(
            agent_label().alias("agent"),
            "handled",
            "aht_s",
            "resolved_rate",
            "sla_met_rate",
            "csat_rate",
            "flags",
        )
    )
    days = wk.days
    period = f"{days[0]:%a %d %b} – {days[-1]:%a %d %b %Y}, time zone {wk.tz}"
    notes = []
    if metrics.handled == 0:
        within = describe_filters(metrics.params["queues"], metrics.params["channels"])
        notes.append(
            "No interactions were handled by agents in this week"
            + (f" for {within}." if within else ".")
        )
    elif not metrics.has_csat:
        notes.append("No customer answered a CSAT survey this week.")
    body_html = _html(subject, period, scope, kpis, agents, notes)
    images = {
        "trend": _png(charts.trend(metrics.trend, charts.SLA_CSAT_TRENDS)),
        "daily": _png(charts.daily_volume(metrics.daily)),
    }
    return EmailBody(
        subject=subject,
        html=body_html,
        text=_text(subject, period, kpis, agents, notes),
        images=images,
    )


def write(body: EmailBody, week_dir: str | Path, reports: Sequence[str] | None = None) -> Path:
    """Keep ``body`` in ``week_dir/email/`` (subject, HTML, text, PNGs); returns the folder.

    ``reports`` names the reports rendered with it, the ones sent along (see
    :func:`report_names`).
    """
    folder = Path(week_dir) / FOLDER
    for name, png in body.images.items():
        write_atomic(folder / f"{name}.png", png)
    write_atomic(folder / "body.html", body.html.encode())
    write_atomic(folder / "body.txt", body.text.encode())
    meta: dict[str, object] = {"subject": body.subject, "images": sorted(body.images)}
    if reports is not None:
        meta["reports"] = list(reports)
    write_atomic(folder / "digest.json", json.dumps(meta, indent=2).encode())
    return folder


def read(week_dir: str | Path) -> EmailBody:
    """The body kept by :func:`write`; a clear error when the week was not fully rendered."""
    folder = Path(week_dir) / FOLDER
    meta_path = folder / "digest.json"
    if not meta_path.is_file():
        raise ParameterError(
            f"{week_dir}: no email digest found ({meta_path} is missing); render the week "
            "with `cxreports report all ...` first"
        )
    meta = json.loads(meta_path.read_text())
    return EmailBody(
        subject=meta["subject"],
        html=(folder / "body.html").read_text(),
        text=(folder / "body.txt").read_text(),
        images={name: (folder / f"{name}.png").read_bytes() for name in meta["images"]},
    )


def report_names(week_dir: str | Path) -> list[str] | None:
    """The reports rendered with the week's digest (None if it does not say: all built-in)."""
    meta_path = Path(week_dir) / FOLDER / "digest.json"
    try:
        names = json.loads(meta_path.read_text()).get("reports")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(names, list) or not all(
        isinstance(n, str) and _REPORT_NAME.fullmatch(n) for n in names
    ):
        return None
    return names


def _png(chart: object) -> bytes:
    return vl_convert.vegalite_to_png(chart.to_dict(), scale=1.5)  # type: ignore[attr-defined]


def _esc(value: object) -> str:
    return html.escape("—" if value is None else str(value))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _html(
    subject: str,
    period: str,
    scope: str,
    kpis: pl.DataFrame,
    agents: pl.DataFrame,
    notes: list[str],
) -> str:
    kpi_rows = []
    for k in kpis.iter_rows(named=True):
        change = "" if k["change"] is None else format_change(k["unit"], k["change"])
        colour = "#64748b"
        if k["change"] and k["better"] != "neutral":
            good = (k["change"] > 0) == (k["better"] == "higher")
            colour = "#15803d" if good else "#b91c1c"
        value = format_value(k["unit"], k["value"])
        kpi_rows.append(
            f'<tr><td style="{_CELL}">{_esc(k["label"])}</td>'
            f'<td style="{_CELL}text-align:right;font-weight:600">{value}</td>'
            f'<td style="{_CELL}text-align:right;color:{colour}">{_esc(change)}</td>'
            f'<td style="{_CELL}text-align:right;color:#64748b">'
            f"{format_value(k['unit'], k['previous'])}</td></tr>"
        )
    agent_rows = [
        f'<tr><td style="{_CELL}">{_esc(a["agent"])}</td>'
        f'<td style="{_CELL}text-align:right">{a["handled"]:,}</td>'
        f'<td style="{_CELL}text-align:right">{duration(a["aht_s"])}</td>'
        f'<td style="{_CELL}text-align:right">{_pct(a["resolved_rate"])}</td>'
        f'<td style="{_CELL}text-align:right">{_pct(a["sla_met_rate"])}</td>'
        f'<td style="{_CELL}text-align:right">{_pct(a["csat_rate"])}</td>'
        f'<td style="{_CELL}color:#b91c1c">{_esc(a["flags"] or "")}</td></tr>'
        for a in agents.iter_rows(named=True)
    ]

    def head(*names: str) -> str:
        return "<tr>" + "".join(f'<th style="{_HEAD}">{n}</th>' for n in names) + "</tr>"

    table = 'style="border-collapse:collapse;margin:6px 0 18px"'
    note_html = "".join(
        f'<p style="background:#fffbeb;border-left:3px solid #f59e0b;padding:6px 10px;'
        f'font-size:13px">{_esc(n)}</p>'
        for n in notes
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="margin:0;padding:16px;{_FONT}">'
        f'<div style="max-width:680px">'
        f'<h1 style="font-size:20px;margin:0 0 4px">{_esc(subject)}</h1>'
        f'<p style="color:#475569;font-size:13px;margin:0 0 12px">{_esc(period)}'
        f"{' · ' + _esc(scope) if scope else ''}</p>{note_html}"
        f'<h2 style="font-size:16px;margin:12px 0 4px">Headline</h2>'
        f"<table {table}>{head('', 'This week', 'Change', 'Previous')}{''.join(kpi_rows)}</table>"
        f'<h2 style="font-size:16px;margin:12px 0 4px">Top agents by volume</h2>'
        f"<table {table}>{head('Agent', 'Handled', 'AHT', 'Resolved', 'SLA', 'CSAT', 'Flags')}"
        f"{''.join(agent_rows)}</table>"
        f'<h2 style="font-size:16px;margin:12px 0 4px">Handled per day</h2>'
        f'<img src="cid:daily" alt="Handled interactions per day" width="640" '
        f'style="max-width:100%">'
        f'<h2 style="font-size:16px;margin:12px 0 4px">Eight-week trends</h2>'
        f'<img src="cid:trend" alt="SLA and CSAT over eight weeks" width="640" '
        f'style="max-width:100%">'
        f'<p style="color:#64748b;font-size:12px;margin-top:18px">The full reports (PDF and '
        f"HTML) are attached. Rates are shares of the week's interactions; definitions are in "
        f"the report glossary.</p></div></body></html>"
    )


def _text(
    subject: str, period: str, kpis: pl.DataFrame, agents: pl.DataFrame, notes: list[str]
) -> str:
    lines = [subject, period, "", *notes, "" if notes else None, "Headline"]
    for k in kpis.iter_rows(named=True):
        change = "" if k["change"] is None else f" ({format_change(k['unit'], k['change'])})"
        lines.append(f"  {k['label']}: {format_value(k['unit'], k['value'])}{change}")
    lines += ["", "Top agents by volume"]
    for a in agents.iter_rows(named=True):
        lines.append(
            f"  {a['agent']}: {a['handled']:,} handled, AHT {duration(a['aht_s'])}, "
            f"resolved {_pct(a['resolved_rate'])}, SLA {_pct(a['sla_met_rate'])}, "
            f"CSAT {_pct(a['csat_rate'])}" + (f" [{a['flags']}]" if a["flags"] else "")
        )
    lines += ["", "The full reports (PDF and HTML) are attached."]
    return "\n".join(line for line in lines if line is not None) + "\n"
