"""Benchmark: how close cxreports loads to the speed of parsing the JSON at all.

Run as ``.venv/bin/python benchmarks/ingest.py --records 100000`` (or ``--quick`` for a small
run that CI can afford). It generates API pages with ``cxreports sample``, then times, each in
its own process so that peak memory is its own:

- ``orjson``: read every page and parse it with orjson, discarding the result (the floor);
- ``pandas``: what an analyst would write: ``json.load`` every page, then
  ``pandas.json_normalize`` of all the records;
- ``cold``: ``cxreports.load`` of every page to all tables (deduplicated, validated);
- ``store``: ``cxreports load --out`` building the Delta store from scratch;
- ``merge``: one more week of pages (the data's average week, after its last one) merged into a
  copy of that store, which parses only the new pages;
- ``warm``: one week read from the store plus every metric of both reports;
- ``model``: the same with the operating model configured: a teams mapping of every agent,
  four targets and business hours with holidays and a queue of its own (business-time first
  response and resolution, outside-hours counts, the team roll-up, each team's and agent's
  target status);
- ``portable``: the headline figures of every week of the store at once, written over
  narwhals (``cxreports metrics summary STORE --weeks ...``, polars);
- ``report``: ``cxreports report all`` for that week from the store, HTML and PDF;
- ``fanout``: the weekly job's rendering for ``--groups`` recipient groups (20 by default: all
  queues, each queue, each channel, then queue and channel pairs), every report and digest of
  every group, from the same store in one pool of warm kernels.

Every step but the report runs ``--repeat`` times in interleaved rounds and keeps its best run;
the table shows the spread. Peak memory (RSS) is each step's own: every step runs in a fresh
child process, and this process, which only orchestrates, stays small (a child starts with its
parent's high-water mark).

Two shapes of data: the sparse year (``--records`` over up to 52 weeks, the default) and a
dense center (``--per-week 80000``: as many weeks as the records fill, so 1M records are 12 weeks
of a mid-size contact center). The store's costs depend on the density, not only the size.

It prints a table (seconds, records/s, MB/s, peak RSS, ratios) and writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from cxreports.sample import DEFAULT_END

HERE = Path(__file__).resolve().parent
WEEK, TZ = "2026-W13", "Asia/Singapore"
#: The pandas baseline is skipped above this many records: it needs ~22 KB of memory a record.
PANDAS_LIMIT = 200_000
#: The operating model of the ``model`` step.
MODEL_TARGETS = ["sla_met_rate >= 0.8", "aht_s <= 600", "frt_business_median_s <= 120",
                 "csat_rate >= 0.85"]  # fmt: skip
MODEL_HOURS = {"mon-fri": "08:30-12:30, 13:30-18:00", "sat": "10:00-14:00",
               "holidays": ["2026-03-27", "2026-04-03"]}  # fmt: skip


def fanout_groups(queues: tuple[str, ...], channels: tuple[str, ...], n: int) -> list[dict]:
    """``n`` audiences as a BPO has them: everything, each queue, each channel, then pairs."""
    groups: list[dict] = [{}]
    groups += [{"queues": [q]} for q in queues]
    groups += [{"channels": [c]} for c in channels]
    groups += [{"queues": [q], "channels": [c]} for q in queues for c in channels]
    return groups[:n]


def step(name: str, data: Path, store: Path, out: Path, groups: int = 20) -> dict[str, object]:
    """Run one measured step in this process; returns its figures."""
    files = sorted(data.glob("*.json"))
    if name == "store":
        # the last run's store is deleted before the clock starts: the step times the build
        shutil.rmtree(store, ignore_errors=True)
    if name == "merge":
        # the copy is made before the clock starts: the step times the merge alone
        merged = store.with_name("store-merged")
        shutil.rmtree(merged, ignore_errors=True)
        shutil.copytree(store, merged)
    # imports happen before the clock starts: the steps measure work, not module loading
    import orjson
    import pandas as pd

    import cxreports
    from cxreports import scope
    from cxreports.report import REPORTS, plan, prepare, render_reports, render_runs
    from cxreports.store import update

    extra: dict[str, object] = {}
    if name == "portable":
        from cxreports.metrics import portable
        from cxreports.period import Week

        all_weeks = [Week.parse(WEEK, TZ).previous(n) for n in reversed(range(60))]
    if name == "model":
        team_map = _team_map(store, out)
        known = scope.known([store])
        hours = {**MODEL_HOURS, "queues": {known.queues[0]: {"mon-sun": "00:00-24:00"}}}
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    start = time.perf_counter()
    if name == "orjson":
        for f in files:
            orjson.loads(f.read_bytes())
    elif name == "pandas":
        records = []
        for f in files:
            with open(f) as handle:
                records.extend(json.load(handle)["cxLogs"]["data"])
        extra["rows"] = len(pd.json_normalize(records))
    elif name == "cold":
        logs = cxreports.load(data, progress=False)
        extra["rows"] = logs.loaded
    elif name == "store":
        update([data], store, progress=False)
    elif name == "merge":
        result = update([data, data.with_name("new-week")], merged, progress=False)
        extra.update(parsed=len(result.parsed), reused=result.reused)
    elif name == "warm":
        _, metrics = prepare(store, WEEK, TZ)
        extra["rows"] = metrics.handled
    elif name == "model":
        _, metrics = prepare(
            store, WEEK, TZ, team_map=team_map, targets=MODEL_TARGETS, business_hours=hours
        )
        extra["rows"] = metrics.handled
        extra["teams"] = metrics.teams.height if metrics.teams is not None else 0
    elif name == "portable":
        kpis = portable.summary([str(store)], all_weeks)
        extra["rows"] = int(kpis["handled"].sum())
        extra["weeks"] = kpis.height
    elif name == "report":
        timings: dict[str, float] = {}
        render_reports(list(REPORTS), [store], WEEK, TZ, out, timings=timings)
        extra.update({f"report_{k}_s": round(v, 2) for k, v in timings.items()})
    elif name == "fanout":
        known = scope.known([store])
        audiences = fanout_groups(known.queues, known.channels, groups)
        timings = {}
        runs = [
            plan(list(REPORTS), [store], WEEK, TZ, out / f"group-{i}", **audience)
            for i, audience in enumerate(audiences)
        ]
        extra["planned_s"] = round(time.perf_counter() - start, 2)
        render_runs(runs, timings=timings)
        extra.update({f"fanout_{k}_s": round(v, 2) for k, v in timings.items()})
        extra["groups"] = len(runs)
    else:
        raise SystemExit(f"unknown step {name}")
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "step": name,
        "seconds": round(seconds, 3),
        # CPU of the whole process: with two cores, up to twice the seconds when all are busy
        "cpu_s": round(usage.ru_utime + usage.ru_stime - cpu_before, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        **extra,
    }


def _team_map(store: Path, out: Path) -> Path:
    """A CSV putting every agent of the store in one of eight teams (before the clock starts)."""
    import polars as pl

    agents = (
        pl.scan_delta(str(store / "interactions"))
        .select(pl.col("agent_id").drop_nulls().unique().sort())
        .collect()
    )
    path = out / "teams.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    agents.with_columns(
        team=pl.format("Team {}", (pl.int_range(pl.len()) % 8) + 1),
        lead=pl.format("Lead {}", (pl.int_range(pl.len()) % 8) + 1),
    ).write_csv(path)
    return path


def run_step(name: str, data: Path, store: Path, out: Path, groups: int) -> dict[str, object]:
    command = [sys.executable, __file__, "--step", name, "--data", str(data)]
    command += ["--store", str(store), "--out", str(out), "--groups", str(groups)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"step {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument(
        "--per-week",
        type=int,
        help="records a week (dense data: 80000 for a mid-size center); default: a sparse year",
    )
    parser.add_argument("--quick", action="store_true", help="2,000 records, for CI")
    parser.add_argument("--workdir", type=Path, default=HERE / "results" / "work")
    parser.add_argument("--json", type=Path, help="where to write the results (JSON)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed load step")
    parser.add_argument("--groups", type=int, default=20, help="recipient groups of fanout")
    parser.add_argument(
        "--steps", help="comma-separated steps to run (default: all); the data is reused"
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        # as the command line does first thing: report and fanout measure what it runs
        from cxreports.startup import skip_slow_iri_checker

        skip_slow_iri_checker()
        print(json.dumps(step(args.step, args.data, args.store, args.out, args.groups)))
        return 0

    records = 2_000 if args.quick else args.records
    repeat = 1 if args.quick else args.repeat
    if args.per_week:
        weeks = max(1, round(records / args.per_week))
        work = args.workdir / f"{records}-dense-{args.per_week}"
    else:
        weeks = max(10, min(52, records // 2_000))
        work = args.workdir / str(records)
    data, store, out = work / "pages", work / "store", work / "outputs"
    week_records = max(1, records // weeks)
    _generate(data, records, weeks, DEFAULT_END, seed=7)
    # the week after the data's last one, as the next weekly fetch would bring it
    _generate(work / "new-week", week_records, 1, DEFAULT_END + timedelta(weeks=1), seed=8)
    size_mb = sum(f.stat().st_size for f in data.glob("*.json")) / 1e6

    steps = [
        "orjson", "pandas", "cold", "store", "merge", "warm", "model", "portable", "report",
        "fanout",
    ]  # fmt: skip
    if records > PANDAS_LIMIT:
        steps.remove("pandas")
    if args.steps:
        chosen = args.steps.split(",")
        if unknown := set(chosen) - set(steps):
            parser.error(f"unknown step(s): {', '.join(sorted(unknown))}")
        if "store" not in chosen and not (store / "interactions" / "_delta_log").is_dir():
            parser.error("the store is not built yet: include the store step")
        steps = [s for s in steps if s in chosen]
    groups = 2 if args.quick else args.groups
    # Every step but the report runs `repeat` times and keeps its best run, the pandas baseline
    # included. The runs are interleaved (each round runs every step once), so a ratio compares
    # steps that saw the same machine: these machines are shared and their speed drifts.
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in steps}
    for round_ in range(repeat):
        for name in steps:
            if name in ("report", "fanout") and round_ < repeat - 1:
                continue  # once, after the last store build
            runs[name].append(run_step(name, data, store, out, groups))
            print(f"  {name:<7} {_seconds(runs[name][-1]):>8.2f} s", file=sys.stderr)
    results = {
        name: {**min(r, key=_seconds), "runs_s": [_seconds(x) for x in r]}
        for name, r in runs.items()
    }

    floor = _seconds(results["orjson"]) if "orjson" in results else None
    rows = []
    for name, r in results.items():
        s = _seconds(r)
        rows.append(
            {
                **r,
                "records_per_s": round(records / s)
                if name in ("orjson", "pandas", "cold", "store")
                else None,
                "mb_per_s": round(size_mb / s, 1)
                if name in ("orjson", "pandas", "cold", "store")
                else None,
                "x_orjson": round(s / floor, 2) if floor else None,
            }
        )
    summary = {
        "records": records,
        "weeks": weeks,
        "new_week_records": week_records,
        "pages_mb": round(size_mb, 1),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "cold_vs_orjson": _ratio(results, "cold", floor),
        "store_vs_orjson": _ratio(results, "store", floor),
        "pandas_vs_cold": round(_seconds(results["pandas"]) / _seconds(results["cold"]), 1)
        if "pandas" in results and "cold" in results
        else None,
        "steps": rows,
    }
    _print_table(summary)
    target = args.json or HERE / "results" / f"ingest-{records}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {target}")
    return 0


def _generate(folder: Path, records: int, weeks: int, end: date, seed: int) -> None:
    if (folder / ".complete").exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    print(f"generating {records:,} records over {weeks} week(s) ...", file=sys.stderr)
    # in a child process: this one stays small, so the steps' peak memory is their own
    generate = [sys.executable, "-m", "cxreports.cli", "sample", "--out", str(folder)]
    generate += ["--records", str(records), "--weeks", str(weeks), "--seed", str(seed)]
    generate += ["--end", end.isoformat()]
    subprocess.run(generate, check=True, stdout=subprocess.DEVNULL)
    (folder / ".complete").touch()


def _ratio(results: dict[str, dict], name: str, floor: float | None) -> float | None:
    if floor is None or name not in results:
        return None
    return round(_seconds(results[name]) / floor, 2)


def _seconds(result: dict[str, object]) -> float:
    return float(result["seconds"])  # type: ignore[arg-type]


def _print_table(summary: dict[str, object]) -> None:
    print(
        f"\n{summary['records']:,} records over {summary['weeks']} weeks, "
        f"{summary['pages_mb']} MB of API pages, "
        f"{summary['cpus']} CPUs, Python {summary['python']}\n"
    )
    print(
        f"{'step':<8}{'seconds':>9}{'CPU s':>8}{'records/s':>12}{'MB/s':>8}"
        f"{'peak RSS':>10}{'x orjson':>10}  runs (s)"
    )
    steps = {r["step"]: r for r in summary["steps"]}  # type: ignore[attr-defined]
    for r in steps.values():
        rate = "" if r["records_per_s"] is None else f"{r['records_per_s']:,}"
        mbs = "" if r["mb_per_s"] is None else f"{r['mb_per_s']}"
        ratio = "" if r["x_orjson"] is None else f"{r['x_orjson']:.2f}"
        spread = f"{min(r['runs_s']):.2f}-{max(r['runs_s']):.2f}" if len(r["runs_s"]) > 1 else ""
        print(
            f"{r['step']:<8}{r['seconds']:>9.2f}{r['cpu_s']:>8.2f}{rate:>12}{mbs:>8}"
            f"{str(r['peak_rss_mb']) + ' MB':>10}{ratio:>10}  {spread}"
        )
    print()
    if summary["cold_vs_orjson"] is not None:
        print(f"cold load / orjson parse-only: {summary['cold_vs_orjson']}x")
    if summary["store_vs_orjson"] is not None:
        print(f"store build / orjson:          {summary['store_vs_orjson']}x")
    if merge := steps.get("merge"):
        print(
            f"merging a new week of {summary['new_week_records']:,} records: {merge['seconds']} s"
        )
    if summary["pandas_vs_cold"] is not None:
        print(f"pandas baseline / cold load:   {summary['pandas_vs_cold']}x")
    for name, what in (
        ("report", "report all (both reports, HTML + PDF)"),
        ("fanout", "fan-out"),
    ):
        if r := steps.get(name):
            parts = {k: v for k, v in r.items() if k.startswith(f"{name}_")}
            head = f"{what}: {r['seconds']:.1f} s"
            if name == "fanout":
                head += f" for {r['groups']} groups ({r['seconds'] / r['groups']:.2f} s a group)"
            print(
                head
                + "; summed by stage: "
                + ", ".join(f"{k[len(name) + 1 : -2]} {v} s" for k, v in parts.items())
            )


if __name__ == "__main__":
    raise SystemExit(main())
