"""The reports' figures for many weeks and stores, from the same definitions: equal on polars
to the reports' own, and on Spark and DuckDB to polars, across a daylight-saving week, the
Sunday-Monday boundary, the 7-day FCR window and an empty week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from cxreports.cli import main
from cxreports.metrics import portable, weekly
from cxreports.period import Week
from cxreports.schema import INTERACTIONS
from cxreports.store import update
from tests.metrics_fixtures import make_logs

#: every figure of a breakdown, as the reports have them
FIGURES = portable.weekly_kpis(
    pl.DataFrame(schema=INTERACTIONS).select(portable.COLUMNS), [Week.parse("2026-W13", "UTC")]
).columns[1:]


@pytest.fixture(scope="module")
def store(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("portable") / "tenant-a"
    update([sample_dir], target)
    return target


def _weeks(tz: str) -> list[Week]:
    # 2026-W13 holds the spring change in Europe/Berlin (Sunday 29 March)
    return [Week.parse(w, tz) for w in ("2026-W11", "2026-W12", "2026-W13", "2026-W30")]


def _assert_equal(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """Every column of ``want`` in ``got``: counts, keys, labels and the rates and intervals
    worked out from counts identical; means and quantiles (the engine's own arithmetic) within
    a relative 1e-12."""
    assert got.height == want.height
    for column, dtype in want.schema.items():
        a, b = got[column].to_list(), want[column].to_list()
        from_counts = column.endswith(("_rate", "_rate_low", "_rate_high", "share"))
        if dtype.is_float() and not from_counts:
            for x, y in zip(a, b, strict=True):
                assert (x is None and y is None) or x == pytest.approx(y, rel=1e-12), column
        else:
            assert a == b, column


@pytest.mark.parametrize("tz", ["Europe/Berlin", "Asia/Singapore"])
def test_polars_gives_the_reports_own_figures(store: Path, tz: str):
    from cxreports.report import prepare

    got = portable.weekly_kpis(portable.store_interactions(str(store)), _weeks(tz))
    rows = []
    for week in _weeks(tz):
        _, m = prepare(store, week.label, tz)
        rows.append(m.summary.with_columns(iso_week=pl.lit(week.label)))
    want = pl.concat(rows, how="vertical_relaxed").select("iso_week", *FIGURES)
    assert set(m.summary.columns) == set(FIGURES)  # every figure of the report, no other
    _assert_equal(got, want)
    assert got.filter(pl.col("iso_week") == "2026-W30")["handled"].item() == 0  # an empty week


@pytest.mark.parametrize(
    ("by", "table", "key"),
    [(["queue_name"], "queues", "queue_name"), (["channel"], "channels", "channel"),
     (["agent_id"], "agents", "agent_id"), (["hour"], "hourly", "hour"),
     (["day"], "daily", "day")],
)  # fmt: skip
def test_each_breakdown_is_the_reports_own_in_a_dst_week(store: Path, by, table, key):
    from cxreports.report import prepare

    week = Week.parse("2026-W13", "Europe/Berlin")  # the clocks go forward on Sunday
    got = portable.weekly_kpis(portable.store_interactions(str(store)), [week], by)
    _, m = prepare(store, week.label, week.tz)
    want = (
        m.table(table)
        .filter(pl.col("handled") > 0)
        .select(key, *FIGURES)
        .with_columns(iso_week=pl.lit(week.label))
    )
    got = got.sort(key, nulls_last=True)
    want = want.sort(key, nulls_last=True)
    assert got[key].to_list() == want[key].to_list()
    _assert_equal(got, want)


def _boundary_rows() -> list[dict]:
    berlin = ZoneInfo("Europe/Berlin")
    stamps = [
        datetime(2026, 3, 29, 23, 59, 59, tzinfo=berlin),  # Sunday, W13 (after the change)
        datetime(2026, 3, 30, 0, 0, 0, tzinfo=berlin),  # Monday, W14
        datetime(2026, 3, 23, 0, 0, 0, tzinfo=berlin),  # Monday, W13's first instant
    ]
    return [
        {"agent_id": "a", "started_at": t.astimezone(UTC), "sla_status": s, "csat_score": c}
        for t, s, c in zip(stamps, ["meet", "breach", "meet"], [5, 2, None], strict=True)
    ]


def test_sunday_2359_and_monday_0000_fall_in_their_own_weeks():
    frame = make_logs(_boundary_rows()).interactions.select(portable.COLUMNS)
    weeks = [Week.parse(w, "Europe/Berlin") for w in ("2026-W13", "2026-W14")]
    got = portable.weekly_kpis(frame.lazy(), weeks)
    assert got.select("iso_week", "handled", "sla_met_rate").rows() == [
        ("2026-W13", 2, 1.0),
        ("2026-W14", 1, 0.0),
    ]
    assert weekly(make_logs(_boundary_rows()), "2026-W13", "Europe/Berlin").handled == 2


@pytest.mark.spark
def test_spark_gives_what_polars_gives(store: Path, spark):
    for tz in ("Europe/Berlin", "Asia/Singapore"):
        on_polars = portable.weekly_kpis(portable.store_interactions(str(store)), _weeks(tz))
        on_spark = portable.weekly_kpis(
            portable.store_interactions(str(store), "spark", spark), _weeks(tz)
        )
        _assert_equal(on_spark, on_polars)
    week = [Week.parse("2026-W13", "Europe/Berlin")]
    for by in (["queue_name"], ["agent_id"], ["hour"], ["day"]):
        on_polars = portable.weekly_kpis(portable.store_interactions(str(store)), week, by)
        on_spark = portable.weekly_kpis(
            portable.store_interactions(str(store), "spark", spark), week, by
        )
        assert on_spark[by[0]].to_list() == on_polars[by[0]].to_list()
        _assert_equal(on_spark, on_polars)
    rows = make_logs(_boundary_rows()).interactions.select(portable.COLUMNS)
    frame = spark.createDataFrame(rows.to_dicts(), schema=_spark_schema(rows))
    weeks = [Week.parse(w, "Europe/Berlin") for w in ("2026-W13", "2026-W14")]
    _assert_equal(portable.weekly_kpis(frame, weeks), portable.weekly_kpis(rows, weeks))


def test_duckdb_gives_what_polars_gives(store: Path):
    import duckdb

    for tz in ("Europe/Berlin", "Asia/Singapore"):
        on_polars = portable.weekly_kpis(portable.store_interactions(str(store)), _weeks(tz))
        on_duckdb = portable.weekly_kpis(
            portable.store_interactions(str(store), "duckdb"), _weeks(tz)
        )
        _assert_equal(on_duckdb, on_polars)
    week = [Week.parse("2026-W13", "Europe/Berlin")]
    for by in (["queue_name"], ["channel"], ["agent_id"], ["hour"], ["day"]):
        on_polars = portable.weekly_kpis(portable.store_interactions(str(store)), week, by)
        on_duckdb = portable.weekly_kpis(
            portable.store_interactions(str(store), "duckdb"), week, by
        )
        assert on_duckdb[by[0]].to_list() == on_polars[by[0]].to_list()
        _assert_equal(on_duckdb, on_polars)
    # the boundary and the FCR window across the change, from rows
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'").fetchall()
    for rows, weeks in (
        (_boundary_rows(), ("2026-W13", "2026-W14")),
        (_fcr_rows(), ("2026-W13",)),
    ):
        frame = make_logs(rows).interactions.select(portable.COLUMNS)
        spans = [Week.parse(w, "Europe/Berlin") for w in weeks]
        relation = con.from_arrow(frame.to_arrow())
        _assert_equal(portable.weekly_kpis(relation, spans), portable.weekly_kpis(frame, spans))
    # a connection on another zone would read other days and hours: refused
    berlin = duckdb.connect()
    berlin.execute("SET TimeZone = 'Europe/Berlin'").fetchall()
    with pytest.raises(ValueError, match="SET TimeZone = 'UTC'"):
        portable.store_interactions(str(store), "duckdb", berlin)


def _the_other_tables(rows: object, week_all: object) -> dict[str, pl.DataFrame]:
    """The week's mixes, heatmap, CSAT ratings and bot rooms, on the frames' own engine."""
    from cxreports.metrics import csat, volume

    tables = {
        "dispositions": volume.mix(rows, "disposition"),
        "by_queue": volume.mix(rows, "disposition", ["queue_name"]),
        "heatmap": volume.heatmap(rows),
        "ratings": csat.distribution(rows),
        "ratings_by_channel": csat.distribution(rows, ["channel"]),
        "bots": volume.bots(week_all),
    }
    return {name: table.collect() for name, table in tables.items()}


def _week_frames(store: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    from cxreports.metrics.core import in_week
    from cxreports.report import prepare

    week = Week.parse("2026-W13", "Europe/Berlin")
    _, m = prepare(store, week.label, week.tz)
    columns = ["disposition", "queue_name", "channel", "weekday", "hour", "csat_score"]
    week_all = in_week(pl.scan_delta(str(store / "interactions")), week).select(
        "deleted_at", "is_bot", "is_ai_agent", "disposition", "first_assignee_id",
        "closed_assignee_id", "handled_time_s",
    )  # fmt: skip
    return m.rows.select(columns), week_all.collect()


def test_mixes_heatmap_ratings_and_bots_on_duckdb(store: Path):
    import duckdb

    rows, week_all = _week_frames(store)
    con = duckdb.connect()
    on_duckdb = _the_other_tables(
        con.from_arrow(rows.to_arrow()), con.from_arrow(week_all.to_arrow())
    )
    on_polars = _the_other_tables(rows, week_all)
    assert (
        on_polars["bots"]["rooms"].sum()
        > on_polars["bots"].filter(pl.col("kind") == "Agent")["rooms"].item()
    )
    for name, want in on_polars.items():
        assert on_duckdb[name].schema == want.schema, name
        _assert_equal(on_duckdb[name], want)


def _spark_schema(frame: pl.DataFrame):  # type: ignore[no-untyped-def]
    from pyspark.sql import types as T

    kinds = {
        pl.Datetime: T.TimestampType(),
        pl.Boolean: T.BooleanType(),
        pl.Float64: T.DoubleType(),
        pl.String: T.StringType(),
    }
    fields = []
    for name, dtype in frame.schema.items():
        kind = next((v for k, v in kinds.items() if dtype == k or isinstance(dtype, k)), None)
        fields.append(T.StructField(name, kind or T.LongType(), True))
    return T.StructType(fields)


@pytest.mark.spark
def test_mixes_heatmap_ratings_and_bots_on_spark(store: Path, spark):
    rows, week_all = _week_frames(store)
    on_spark = _the_other_tables(
        spark.createDataFrame(rows.to_dicts(), schema=_spark_schema(rows)),
        spark.createDataFrame(week_all.to_dicts(), schema=_spark_schema(week_all)),
    )
    for name, want in _the_other_tables(rows, week_all).items():
        assert on_spark[name].schema == want.schema, name
        _assert_equal(on_spark[name], want)


@pytest.mark.spark
def test_metrics_summary_across_stores_on_spark(store: Path, tmp_path: Path, capsys, spark):
    other = tmp_path / "tenant-b"
    import shutil

    shutil.copytree(store, other)
    args = ["metrics", "summary", str(store), str(other), "--weeks", "2026-W12..2026-W13"]
    args += ["--tz", "Europe/Berlin", "--format", "csv"]
    assert main([*args, "--engine", "spark", "--spark-master", "local[2]"]) == 0
    on_spark = pl.read_csv(capsys.readouterr().out.encode())
    assert main(args) == 0
    on_polars = pl.read_csv(capsys.readouterr().out.encode())
    assert on_spark.select("tenant", "iso_week").rows() == [
        ("tenant-a", "2026-W12"), ("tenant-a", "2026-W13"),
        ("tenant-b", "2026-W12"), ("tenant-b", "2026-W13"),
    ]  # fmt: skip
    _assert_equal(on_spark, on_polars)


def test_metrics_daily_across_weeks_on_duckdb(store: Path, capsys):
    args = ["metrics", "daily", str(store), "--weeks", "2026-W12..2026-W13"]
    args += ["--tz", "Europe/Berlin", "--format", "csv", "--frt-target", "30"]
    assert main([*args, "--engine", "duckdb"]) == 0
    on_duckdb = pl.read_csv(capsys.readouterr().out.encode())
    assert main(args) == 0
    on_polars = pl.read_csv(capsys.readouterr().out.encode())
    assert on_duckdb.height == 14  # each local day of the two weeks
    assert on_duckdb["day"].to_list() == on_polars["day"].to_list()
    _assert_equal(on_duckdb, on_polars)
    # --frt-target reaches the figures: the same week's day as the report has it
    from cxreports.report import prepare

    _, m = prepare(store, "2026-W13", "Europe/Berlin", frt_target_s=30)
    first = m.daily.row(0, named=True)
    got = on_polars.filter(pl.col("day") == str(first["day"])).row(0, named=True)
    assert got["frt_within_target_rate"] == pytest.approx(first["frt_within_target_rate"])


@pytest.mark.spark
def test_without_spark_master_the_summary_runs_where_spark_is_configured(store: Path):
    import os
    import subprocess
    import sys

    command = [
        sys.executable, "-c", "import sys; from cxreports.cli import main; sys.exit(main())",
        "metrics", "summary", str(store), "--weeks", "2026-W13..2026-W13", "--engine", "spark",
        "--format", "csv",
    ]  # fmt: skip
    # how spark-submit and a cluster's own settings hand a master to PySpark
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": "--master local[1] pyspark-shell"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "computing on Spark, master local[1]" in done.stderr
    got = pl.read_csv(done.stdout.encode())
    want = portable.summary([str(store)], [Week.parse("2026-W13", "UTC")])
    assert got["handled"].to_list() == want["handled"].to_list()


def test_weeks_of_several_zones_or_twice_are_refused():
    frame = make_logs(_boundary_rows()).interactions.select(portable.COLUMNS)
    mixed = [Week.parse("2026-W13", "Europe/Berlin"), Week.parse("2026-W14", "UTC")]
    with pytest.raises(ValueError, match="several time zones"):
        portable.weekly_kpis(frame, mixed)
    twice = [Week.parse("2026-W13", "UTC")] * 2
    with pytest.raises(ValueError, match="twice"):
        portable.weekly_kpis(frame, twice)


def test_options_the_summary_would_not_apply_are_refused(store: Path, capsys):
    weeks = ["--weeks", "2026-W12..2026-W13"]
    for extra, named in (
        (["--queues", "Billing"], "--queues"),
        (["--week", "2026-W13"], "--week"),
        (["--target", "sla_met_rate >= 0.8"], "--target"),
        (["--as-of", "0"], "--as-of"),
    ):
        assert main(["metrics", "queues", str(store), *weeks, *extra]) == 2
        err = capsys.readouterr().err
        assert named in err and "goes with one --week" in err
    # another engine without --weeks would silently be polars: refused, with the way to ask
    assert main(["metrics", "queues", str(store), "--week", "2026-W13", "--engine", "duckdb"]) == 2
    assert "--weeks 2026-W13..2026-W13" in capsys.readouterr().err


def test_bad_week_ranges_are_one_line(store: Path, sample_dir: Path, capsys):
    base = ["metrics", "summary", str(store)]
    assert main([*base, "--weeks", "2026-W13"]) == 2
    assert "FIRST..LAST" in capsys.readouterr().err
    assert main([*base, "--weeks", "2026-W13..2026-W11"]) == 2
    assert "comes before" in capsys.readouterr().err
    assert main(["metrics", "summary", str(sample_dir), "--weeks", "2026-W12..2026-W13"]) == 2
    assert "not a store" in capsys.readouterr().err
    assert main(["metrics", "teams", str(store), "--weeks", "2026-W12..2026-W13"]) == 2
    assert "ask one --week" in capsys.readouterr().err


def _fcr_rows() -> list[dict]:
    """Two resolved contacts of Monday 23 March (Berlin) and their returns: exactly 7 x 24 hours
    later (a repeat: not FCR), and a second after that (FCR). The clocks go forward in
    between, so "7 days later" on the calendar would be an hour short."""
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2026, 3, 23, 10, 0, tzinfo=berlin).astimezone(UTC)
    seven = first + timedelta(hours=168)
    return [
        {"agent_id": "a", "contact_id": "c1", "started_at": first},
        {"agent_id": "a", "contact_id": "c1", "started_at": seven},
        {"agent_id": "a", "contact_id": "c2", "started_at": first},
        {"agent_id": "a", "contact_id": "c2", "started_at": seven + timedelta(seconds=1)},
    ]


def test_the_fcr_window_is_seven_times_24_hours_across_a_dst_change():
    logs = make_logs(_fcr_rows())
    week = [Week.parse("2026-W13", "Europe/Berlin")]
    got = portable.weekly_kpis(logs.interactions.select(portable.COLUMNS), week)
    assert got["fcr_rate"].item() == 0.5  # c2's first interaction only
    assert weekly(logs, "2026-W13", "Europe/Berlin").summary["fcr_rate"].item() == 0.5


@pytest.mark.spark
def test_the_fcr_window_on_spark(spark):
    rows = make_logs(_fcr_rows()).interactions.select(portable.COLUMNS)
    frame = spark.createDataFrame(rows.to_dicts(), schema=_spark_schema(rows))
    week = [Week.parse("2026-W13", "Europe/Berlin")]
    assert portable.weekly_kpis(frame, week)["fcr_rate"].item() == 0.5


@pytest.mark.slow
def test_the_cross_tenant_notebook_runs(store: Path, tmp_path: Path):
    import papermill as pm

    out = tmp_path / "cross_tenant.ipynb"
    other = tmp_path / "tenant-b"
    import shutil

    shutil.copytree(store, other)
    pm.execute_notebook(
        str(Path(__file__).parents[1] / "docs" / "cross_tenant.ipynb"), str(out),
        parameters={"stores": [str(store), str(other)], "first": "2026-W12",
                    "last": "2026-W13", "tz": "Europe/Berlin"},
        cwd=str(tmp_path), progress_bar=False,
    )  # fmt: skip
    text = out.read_text()
    assert "tenant-a" in text and "tenant-b" in text and "2026-W13" in text
