"""The benchmark's quick mode runs end to end, so the script cannot silently rot."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_benchmark_runs_and_reports_every_step(tmp_path: Path):
    target = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ingest.py"), "--quick",
         "--workdir", str(tmp_path / "work"), "--json", str(target)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(target.read_text())
    assert result["records"] == 2000
    steps = {s["step"]: s for s in result["steps"]}
    assert list(steps) == [
        "orjson", "pandas", "cold", "store", "merge", "warm", "model", "portable", "report",
        "fanout",
    ]  # fmt: skip
    # the new week is parsed, the store's own pages are recognised and not parsed again
    assert steps["merge"]["reused"] == 20 and steps["merge"]["parsed"] > 0
    assert steps["cold"]["rows"] == 2000 and steps["warm"]["rows"] > 0
    # the operating model: the same week with teams, targets and business hours
    assert steps["model"]["rows"] == steps["warm"]["rows"] and steps["model"]["teams"] >= 2
    # every week of the data at once, over narwhals: every counted interaction in some week
    assert steps["portable"]["weeks"] == 60 and steps["portable"]["rows"] > steps["warm"]["rows"]
    assert all(s["seconds"] > 0 and s["peak_rss_mb"] > 0 for s in steps.values())
    assert all(s["cpu_s"] > 0 for s in steps.values())
    assert result["store_vs_orjson"] == round(
        steps["store"]["seconds"] / steps["orjson"]["seconds"], 2
    )
    assert {"report_cells_s", "report_kernel_s", "report_pdf_s"} <= set(steps["report"])
    # the fan-out renders every report and digest of its groups, and says what each stage took
    assert steps["fanout"]["groups"] == 2
    stages = {"fanout_cells_s", "fanout_html_s", "fanout_pdf_s", "fanout_email_s"}
    assert stages <= set(steps["fanout"])
    assert all(steps["fanout"][s] > 0 for s in stages)
    assert re.search(r"fan-out: [\d.]+ s for 2 groups \([\d.]+ s a group\)", done.stdout)
    outputs = tmp_path / "work" / "2000" / "outputs"
    for group in range(2):
        week = outputs / f"group-{group}" / "2026-W13"
        assert {"agent-performance.pdf", "csat-sla.pdf"} <= {p.name for p in week.iterdir()}
        assert (week / "email" / "digest.json").is_file()
    assert "cold load / orjson parse-only" in done.stdout
    assert "store build / orjson" in done.stdout
    assert re.search(r"merging a new week of [\d,]+ records: [\d.]+ s", done.stdout)
