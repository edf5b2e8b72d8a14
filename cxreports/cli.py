"""The ``cxreports`` command: parse arguments, call one library function, map errors to exits."""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cxreports import __version__
from cxreports.exceptions import CxReportsError, EmptyDataError, ParameterError
from cxreports.startup import skip_slow_iri_checker

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code.

    A reader that goes away (``cxreports ... | head``) ends the command quietly with 141, the
    status of a program stopped by SIGPIPE, as other command-line tools end.
    """
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # a closed pipe shows here, not as Python exits
    except BrokenPipeError:
        _stdout_to_devnull()
        return 141


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null: what is still buffered for it is dropped at exit, not
    reported as another BrokenPipeError."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        with contextlib.suppress(OSError, ValueError):  # a stdout with no file (a test's)
            os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _main(argv: Sequence[str] | None) -> int:
    skip_slow_iri_checker()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CxReportsError as exc:
        print(f"cxreports {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cxreports: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one sub-command per step of the weekly job."""
    parser = argparse.ArgumentParser(
        prog="cxreports",
        description="Weekly agent-performance and CSAT/SLA reports from contact-center logs.",
    )
    parser.add_argument("--version", action="version", version=f"cxreports {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in (
        _add_sample,
        _add_load,
        _add_fetch,
        _add_metrics,
        _add_report,
        _add_notebooks,
        _add_send,
        _add_weekly,
        _add_config,
        _add_store,
    ):
        register(sub)
    return parser


def _add_sample(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="write the deterministic sample data set (API pages)")
    p.add_argument("--out", required=True, type=Path, help="folder for the page files")
    p.add_argument("--records", type=int, default=6000, help="interactions (default 6000)")
    p.add_argument("--weeks", type=int, default=10, help="weeks of data (default 10)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--end", type=_date, default=None, help="Monday the data ends (2026-03-30)")
    p.add_argument("--page-size", type=int, default=100, help="records per page (default 100)")
    p.set_defaults(handler=_run_sample)


def _run_sample(args: argparse.Namespace) -> int:
    from cxreports.sample import DEFAULT_END, generate

    pages = generate(
        args.out,
        records=args.records,
        weeks=args.weeks,
        seed=args.seed,
        end=args.end or DEFAULT_END,
        page_size=args.page_size,
    )
    print(f"wrote {len(pages)} pages ({args.records} interactions) to {args.out}")
    return 0


def _add_load(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "load", help="load CX-log pages, validate them, update a Delta Lake store (--out)"
    )
    p.add_argument("sources", nargs="+", type=_text, help="files, directories or globs of pages")
    p.add_argument(
        "--out", type=_text, help="Delta store to create or update: a folder or s3://bucket/prefix"
    )
    p.add_argument("--csat-score-field", default="room.csat_score", help="dotted path of CSAT")
    p.add_argument("--strict", action="store_true", help="fail on the first bad record")
    p.set_defaults(handler=_run_load)


def _run_load(args: argparse.Namespace) -> int:
    from cxreports.load import format_summary, load, require_records
    from cxreports.store import summary, update

    if not args.out:
        logs = load(*args.sources, csat_score_field=args.csat_score_field, strict=args.strict)
        print(format_summary(logs.summary(), logs.quarantine))
        require_records(logs)
        return 0
    result = update(
        list(args.sources), args.out, csat_score_field=args.csat_score_field, strict=args.strict
    )
    figures, quarantine = summary(args.out)
    print(format_summary(figures, quarantine))
    print()
    print(
        f"store {result.store}: parsed {len(result.parsed)} new or changed file(s), "
        f"reused {result.reused}; months written: {', '.join(result.months) or 'none'}"
    )
    if not figures["loaded"]:  # (its quarantine is kept: those files are not parsed again)
        raise EmptyDataError(
            f"{result.store} holds no interaction: {figures['quarantined']} record(s) or "
            "file(s) quarantined: " + "; ".join(quarantine["reason"].head(3))
        )
    return 0


def _add_fetch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fetch",
        help="download CX-log pages from the API (token from $CXREPORTS_API_TOKEN)",
    )
    p.add_argument("--since", required=True, type=_date, help="first date (2026-03-23)")
    p.add_argument("--until", required=True, type=_date, help="last date (2026-03-30)")
    p.add_argument("--out", required=True, type=Path, help="folder for <since>_<until>/ pages")
    p.add_argument("--base-url", help="CX-log endpoint URL (default $CXREPORTS_API_BASE_URL)")
    p.add_argument("--page-size", type=int, default=100, help="records per page (default 100)")
    p.set_defaults(handler=_run_fetch)


def _run_fetch(args: argparse.Namespace) -> int:
    from cxreports.fetch import ApiSettings, fetch, resolve_base_url

    settings = ApiSettings(resolve_base_url(args.base_url), page_size=args.page_size)
    result = fetch(settings, args.since, args.until, args.out)
    print(
        f"fetched {result.pages_fetched} pages, reused {result.pages_reused} already saved "
        f"({result.records:,} records"
        + (f"; the API's total says {result.total:,}" if result.total is not None else "")
        + f") in {result.seconds:.1f} s to {result.folder}"
    )
    return 0


def _add_metrics(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="print one metric table of a report week")
    p.add_argument(
        "table",
        choices=("agents", "teams", "targets", "queues", "channels", "daily", "hourly", "summary"),
    )
    p.add_argument(
        "sources",
        nargs="+",
        type=_text,
        help="a store (cxreports load --out), or files, directories or globs of pages",
    )
    _add_week_options(p)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument(
        "--weeks",
        type=_text,
        metavar="FIRST..LAST",
        help="each week from FIRST to LAST (e.g. 2025-W01..2026-W13) for every store given: "
        "summary, queues, channels, agents, daily or hourly, one row per store, week and group",
    )
    p.add_argument(
        "--engine",
        choices=("polars", "spark", "duckdb"),
        default="polars",
        help="with --weeks: compute on polars (default), Spark or DuckDB",
    )
    p.add_argument(
        "--spark-master",
        type=_text,
        help="with --engine spark: the master URL (default: the one Spark's own configuration "
        "gives, spark-defaults.conf or PYSPARK_SUBMIT_ARGS, else local[*])",
    )
    p.set_defaults(handler=_run_metrics)


def _add_week_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--week", type=_week, help="ISO week such as 2026-W13 (default: last complete week)"
    )
    p.add_argument("--tz", default="UTC", help="IANA time zone of the report (default UTC)")
    _add_report_options(p)


def _add_report_options(p: argparse.ArgumentParser) -> None:
    """The report parameters besides the week and time zone, shared by metrics, report and
    notebooks (whose defaults for those two differ)."""
    p.add_argument("--queues", type=_filter_names, help=f"only these queues {_FILTER_HELP}")
    p.add_argument("--channels", type=_filter_names, help=f"only these channels {_FILTER_HELP}")
    p.add_argument("--min-volume", type=int, default=20, help="rank agents from this volume")
    p.add_argument("--frt-target", type=float, default=60.0, help="first-response proxy, seconds")
    p.add_argument("--csat-score-field", default="room.csat_score", help="dotted path of CSAT")
    p.add_argument(
        "--as-of",
        type=_as_of,
        help="read a store as it was: a version (`cxreports store history`) or a timestamp",
    )
    p.add_argument(
        "--team-map",
        type=_text,
        help="CSV of agent_id,team[,lead]: a team roll-up and each agent's team",
    )
    p.add_argument(
        "--teams", type=_filter_names, help=f"only these teams of --team-map {_FILTER_HELP}"
    )
    p.add_argument(
        "--target",
        action="append",
        dest="targets",
        type=_target,
        help="a target such as 'sla_met_rate >= 0.80' or 'aht_s <= 600 at_risk=30 queue=Billing'"
        " (repeatable)",
    )
    p.add_argument(
        "--business-hours",
        type=_text,
        help="TOML file of opening hours ([business_hours], e.g. your weekly config): first "
        "response and resolution in business time too",
    )


def _report_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The notebooks' parameters from the options shared by metrics, report and notebooks."""
    from cxreports.hours import read as read_hours

    return {
        "queues": args.queues or [],
        "channels": args.channels or [],
        "min_volume": args.min_volume,
        "frt_target_s": args.frt_target,
        "csat_score_field": args.csat_score_field,
        **{k: v for k in ("team_map", "teams", "targets") if (v := getattr(args, k, None))},
        **(
            {"business_hours": read_hours(args.business_hours)}
            if getattr(args, "business_hours", None)
            else {}
        ),
    }


def _run_metrics(args: argparse.Namespace) -> int:
    import polars as pl

    from cxreports import store
    from cxreports.export import frame_to_text
    from cxreports.report import prepare

    if args.weeks is not None:
        return _run_summary(args)
    if args.engine != "polars":
        raise ParameterError(
            f"--engine {args.engine} goes with --weeks FIRST..LAST (one week: --weeks "
            "2026-W13..2026-W13); one --week is computed on polars"
        )
    if args.table == "targets" and not args.targets:
        raise ParameterError("the targets table needs one or more --target 'METRIC >= VALUE'")
    if args.table == "teams" and not args.team_map:
        raise ParameterError(
            "the teams table needs --team-map FILE: a CSV of agent_id,team and optionally lead"
        )
    as_of = args.as_of
    if len(args.sources) == 1 and store.is_store(args.sources[0]):
        # as a report does: a damaged store is named, not read in part (the week's read would
        # miss a table it does not open); the run then reads the version checked
        as_of = store.verify(args.sources[0], as_of).version
    _, metrics = prepare(
        args.sources,
        args.week,
        args.tz,
        **_report_parameters(args),
        as_of=as_of,
    )
    table = metrics.table(args.table)
    if args.table == "agents":  # as the reports list them: by rank, then the agents below
        # the minimum volume, most handled first
        table = table.sort(
            "rank", pl.col("handled"), "agent_name", "agent_id",
            descending=[False, True, False, False], nulls_last=True,
        )  # fmt: skip
    sys.stdout.write(frame_to_text(table, args.format))
    return 0


def _run_summary(args: argparse.Namespace) -> int:
    """``metrics summary STORE... --weeks FIRST..LAST``: the headline figures per store and
    week, on polars or Spark (:mod:`cxreports.metrics.portable`)."""
    from datetime import timedelta

    from cxreports import store
    from cxreports.export import frame_to_text
    from cxreports.metrics import portable
    from cxreports.period import Week

    ignored = {
        "--week": args.week, "--queues": args.queues, "--channels": args.channels,
        "--team-map": args.team_map, "--teams": args.teams, "--target": args.targets,
        "--business-hours": args.business_hours, "--as-of": args.as_of,
    }  # fmt: skip
    if given := [flag for flag, value in ignored.items() if value]:
        raise ParameterError(
            f"--weeks gives every queue and channel of each store's newest snapshot; {given[0]} "
            "goes with one --week"
        )
    keys = {"summary": [], "queues": ["queue_name"], "channels": ["channel"]}
    keys |= {"agents": ["agent_id"], "daily": ["day"], "hourly": ["hour"]}
    if args.table not in keys:
        raise ParameterError(
            f"--weeks goes with the tables {', '.join(keys)}; for {args.table}, ask one --week"
        )
    first, sep, last = args.weeks.partition("..")
    if not sep:
        raise ParameterError("--weeks reads FIRST..LAST, e.g. 2025-W01..2026-W13")
    start, end = Week.parse(first.strip(), args.tz), Week.parse(last.strip(), args.tz)
    if end.start_utc < start.start_utc:
        raise ParameterError(f"--weeks: {end.label} comes before {start.label}")
    end.require_started()
    weeks = [start]
    while weeks[-1].label != end.label:
        if len(weeks) >= 530:
            raise ParameterError("--weeks spans more than ten years; ask for fewer weeks")
        weeks.append(Week.containing(weeks[-1].days[-1] + timedelta(days=1), args.tz))
    if not_stores := [s for s in args.sources if not store.is_store(s)]:
        raise ParameterError(
            f"--weeks reads stores (cxreports load --out STORE); not a store: {not_stores[0]}"
        )
    spark = None
    if args.engine == "duckdb":
        try:
            import duckdb  # noqa: F401
        except ImportError:
            raise ParameterError(
                "--engine duckdb needs DuckDB: pip install 'cxreports[duckdb]'"
            ) from None
    if args.engine == "spark":
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise ParameterError(
                "--engine spark needs PySpark and Java 17: pip install 'cxreports[spark]'"
            ) from None
        builder = SparkSession.builder.appName("cxreports")
        if args.spark_master:  # else Spark's own configuration, whose default is local[*]
            builder = builder.master(args.spark_master)
        spark = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        print(f"cxreports: computing on Spark, master {spark.sparkContext.master}", file=sys.stderr)
    frame = portable.summary(
        args.sources,
        weeks,
        args.engine,  # type: ignore[arg-type]
        spark,
        keys[args.table],
        args.frt_target,
    )
    sys.stdout.write(frame_to_text(frame, args.format))
    return 0


_REPORT_USAGE = """\
cxreports report {agent-performance,csat-sla,agent-scorecards,all} SOURCE [SOURCE ...] [options]
       cxreports report [REPORT] SOURCE [SOURCE ...] --notebook PATH.ipynb [options]"""


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="render the weekly reports (built-in or your own notebooks) to HTML and PDF",
        usage=_REPORT_USAGE,
        description="Render reports for one week into OUT/<week>/. REPORT is agent-performance, "
        "csat-sla, agent-scorecards or all; it may be left out when --notebook names your own "
        "report notebook.",
    )
    p.add_argument(
        "words",
        nargs="+",
        type=_text,
        metavar="[REPORT] SOURCE",
        help="the report, then files, directories or globs of pages, or a store",
    )
    p.add_argument(
        "--notebook",
        action="append",
        type=_path,
        default=[],
        metavar="PATH.ipynb",
        help="also render this notebook (with a cell tagged parameters); repeatable",
    )
    _add_week_options(p)
    p.add_argument("--out", type=_path, default=Path("outputs"), help="output folder (outputs/)")
    p.add_argument("--format", type=_csv_list, default=["html", "pdf"], help="html,pdf")
    p.add_argument(
        "--scorecards",
        action="store_true",
        help="with all: also the agent scorecards (a page per agent for one-to-ones)",
    )
    p.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from cxreports.exceptions import ParameterError
    from cxreports.report import OPTIONAL, REPORTS, custom_report, render_reports

    first, *rest = args.words
    if first in (*REPORTS, *OPTIONAL, "all"):
        names, sources = (list(REPORTS) if first == "all" else [first]), rest
        if first == "all" and args.scorecards:
            names += list(OPTIONAL)
    elif args.notebook:
        names, sources = [], args.words
    else:
        raise ParameterError(
            f"name the report first: {', '.join([*REPORTS, *OPTIONAL])} or all (or give --notebook "
            "PATH.ipynb), then the sources"
        )
    if not sources:
        raise ParameterError(
            "no source given: name files, directories or globs of pages, or a store, after "
            "the report"
        )
    written = render_reports(
        names,
        sources,
        args.week,
        args.tz,
        args.out,
        formats=args.format,
        custom=[custom_report(path) for path in args.notebook],
        **_report_parameters(args),
        as_of=args.as_of,
    )
    for files in written.values():
        for path in files.values():
            print(path)
    print(f"{next(iter(written.values()))['ipynb'].parent / 'email'}/ (the email digest)")
    return 0


def _add_notebooks(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "notebooks",
        help="copy the report notebooks into a folder, ready to open in JupyterLab",
        description="Copy the report notebooks into OUT with the defaults of their parameters "
        "cell set. Without --source, the sample data set is written to OUT/data/ and the "
        "notebooks read its store; with --source they read that (by its absolute path).",
    )
    p.add_argument("--out", type=_path, required=True, help="folder for the notebooks")
    p.add_argument("--source", type=_text, help="pages or a store for the notebooks to read")
    p.add_argument(
        "--week",
        type=_week,
        help="ISO week (default: 2026-W13 for the sample, else the last complete week)",
    )
    p.add_argument("--tz", help="IANA time zone (default: Asia/Singapore for the sample, else UTC)")
    _add_report_options(p)
    p.add_argument("--force", action="store_true", help="overwrite notebooks that were edited")
    p.set_defaults(handler=_run_notebooks)


def _run_notebooks(args: argparse.Namespace) -> int:
    from cxreports.workspace import write_notebooks

    parameters = _report_parameters(args)
    if args.business_hours:  # its file, read there: the notebooks' command names it
        parameters["business_hours"] = args.business_hours
    ws = write_notebooks(
        args.out,
        args.source,
        args.week,
        args.tz,
        **parameters,
        as_of=args.as_of,
        force=args.force,
    )
    for path in ws.written:
        print(f"wrote {path}")
    for path in ws.unchanged:
        print(f"kept {path} (already up to date)")
    if ws.sample:
        print(f"sample data: {ws.folder / 'data' / 'sample'} (pages), {ws.source} (store)")
    week = ws.parameters["week"] or "the last complete week"
    print(
        f"\nThe notebooks read {ws.source}, week {week}, time zone {ws.parameters['tz']}; to read"
        " other data, change the values in the cell tagged parameters (or run this again with"
        " --source, --week, --tz and --force).\n"
        f"Open them:  jupyter lab {shlex.quote(str(ws.folder))}\n"
        f"The same figures from the command line:  {ws.report_command()}"
    )
    return 0


def _add_smtp_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--smtp-host", type=_line, help="SMTP server (or $CXREPORTS_SMTP_HOST)")
    p.add_argument("--smtp-port", type=_port, help="SMTP port (default 587)")
    p.add_argument("--smtp-user", type=_line, help="login; leave it out to send without logging in")
    p.add_argument("--smtp-security", choices=("starttls", "ssl", "none"), help="default starttls")
    p.add_argument(
        "--from", dest="sender", type=_address, help="From address (or $CXREPORTS_SMTP_FROM)"
    )


def _smtp_settings(args: argparse.Namespace):
    import os

    from cxreports.exceptions import ParameterError
    from cxreports.mail import SmtpSettings

    host = args.smtp_host or os.environ.get("CXREPORTS_SMTP_HOST")
    sender = args.sender or os.environ.get("CXREPORTS_SMTP_FROM")
    if not host or not sender:
        raise ParameterError("name the SMTP server and sender: --smtp-host and --from")
    return SmtpSettings(
        host=host,
        port=args.smtp_port or 587,
        security=args.smtp_security or "starttls",
        user=args.smtp_user,
        sender=sender,
    )


def _add_send(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("send", help="email a rendered week (digest body, reports attached)")
    p.add_argument("week_dir", type=Path, help="a rendered week, e.g. outputs/2026-W13")
    p.add_argument("--to", type=_addresses(), required=True, help="recipients, comma-separated")
    p.add_argument("--subject", help="subject line (default: the digest's)")
    p.add_argument("--dry-run", action="store_true", help="write the .eml instead of sending")
    _add_smtp_options(p)
    p.set_defaults(handler=_run_send)


def _run_send(args: argparse.Namespace) -> int:
    from cxreports.deliver import attachments, send_week
    from cxreports.mail import SmtpSettings

    if args.dry_run:
        sender = args.sender or "cxreports@localhost"
        settings = SmtpSettings(host=args.smtp_host or "localhost", sender=sender)
    else:
        settings = _smtp_settings(args)
    result = send_week(args.week_dir, settings, args.to, subject=args.subject, dry_run=args.dry_run)
    print(f"wrote {result}" if args.dry_run else f"sent {result} to {', '.join(args.to)}")
    print(f"attached: {', '.join(p.name for p in attachments(args.week_dir))}")
    return 0


def _add_weekly(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weekly", help="the scheduled job: fetch, render every group, email")
    p.add_argument("--config", type=_path, required=True, help="TOML settings (see `config`)")
    p.add_argument("--week", type=_week, help="ISO week (default: the last complete week in --tz)")
    p.add_argument("--resend", action="store_true", help="email groups already sent again")
    p.add_argument("--source", type=_text, help="read these pages instead of the configured one")
    p.add_argument("--base-url", help="CX-log endpoint URL")
    p.add_argument("--tz", help="IANA time zone of the report")
    p.add_argument("--out", type=_text, help="output folder")
    p.add_argument(
        "--to",
        type=_addresses("leave --to out for the config's groups"),
        help="send everything to these addresses instead of the config's groups",
    )
    p.add_argument("--operator", type=_address, help="address told when a run fails")
    _add_smtp_options(p)
    p.set_defaults(handler=_run_weekly)


def _run_weekly(args: argparse.Namespace) -> int:
    from cxreports.config import read_config
    from cxreports.fetch import check_base_url
    from cxreports.job import run_weekly, setup_logging
    from cxreports.period import zone

    setup_logging()
    if args.tz is not None:
        try:
            zone(args.tz)  # a bad --tz is named as such, not as the config file's [report] tz
        except ParameterError as exc:
            raise ParameterError(f"--tz: {exc}") from exc
    if args.base_url:
        check_base_url(args.base_url, "--base-url")  # likewise, not as [source] base_url
    config = read_config(args.config).with_overrides(
        source_path=args.source,
        base_url=args.base_url,
        tz=args.tz,
        out=args.out,
        to=args.to,
        operator=args.operator,
        smtp_host=args.smtp_host,
        smtp_port=args.smtp_port,
        smtp_user=args.smtp_user,
        smtp_security=args.smtp_security,
        sender=args.sender,
    )
    if args.source:
        config = config.with_overrides(base_url="")
    run_weekly(config, args.week, resend=args.resend)
    return 0


def _add_store(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("store", help="look after a store: history, compact, vacuum, migrate")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("history", help="list the store's snapshots (versions for --as-of)")
    a.add_argument("store", type=_text)
    a = actions.add_parser("compact", help="rewrite small data files into larger ones")
    a.add_argument("store", type=_text)
    a = actions.add_parser("vacuum", help="delete data files no recent snapshot reads")
    a.add_argument("store", type=_text)
    a.add_argument(
        "--retention-hours",
        type=int,
        default=168,
        help="keep what snapshots of the last N hours read (default 168, at most 876600: 100 "
        "years); --as-of reaches back that far",
    )
    a = actions.add_parser("migrate", help="convert a store of the earlier Parquet format")
    a.add_argument("old", type=_path, help="the earlier store (it has _cxreports_store.json)")
    a.add_argument("new", type=_text, help="a new, empty folder (or s3:// prefix) for the store")
    p.set_defaults(handler=_run_store)


def _run_store(args: argparse.Namespace) -> int:
    from cxreports import store
    from cxreports.export import frame_to_text

    if args.action == "history":
        sys.stdout.write(frame_to_text(store.history(args.store), "table"))
    elif args.action == "compact":
        snap = store.compact(args.store)
        print(f"store {args.store}: compacted; the newest snapshot is version {snap.version}")
    elif args.action == "vacuum":
        deleted = store.vacuum(args.store, args.retention_hours)
        print(
            f"store {args.store}: deleted {len(deleted)} file(s) no snapshot of the last "
            f"{args.retention_hours} hour(s) reads"
        )
    else:
        snap = store.migrate(args.old, args.new)
        print(
            f"converted {args.old} into the Delta store {args.new} ({snap.loaded:,} "
            f"interactions, {snap.records_read:,} records read); use {args.new} from now on"
        )
    return 0


def _add_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print an example config file for `weekly`")
    p.set_defaults(handler=lambda args: print(_example_config(), end="") or 0)


def _example_config() -> str:
    from cxreports.config import EXAMPLE

    return EXAMPLE


#: How the filters' names are given, for their help.
_FILTER_HELP = "(comma-separated, case ignored; a name with a comma in double quotes)"


def _csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _names(text: str) -> list[str]:
    """A comma-separated list that names at least one item (``''`` is not "all")."""
    return _some(_csv_list(text))


def _filter_names(text: str) -> list[str]:
    """Queue, channel or team names, comma-separated; a name that holds a comma goes in double
    quotes (``'"Returns, Refunds",Billing'``), as in a CSV line."""
    fields = next(csv.reader([text], skipinitialspace=True), [])
    return _some([name.strip() for name in fields if name.strip()])


def _some(names: list[str]) -> list[str]:
    if not names:
        raise argparse.ArgumentTypeError(
            "expected one or more comma-separated names, got none; leave the option out for all"
        )
    return names


def _given(expected: str, instead: str = "") -> Callable[[str], str]:
    """An option's check that its value is not blank (an empty source is not the current
    folder, nor an empty --week the default week): ``expected`` says what it takes."""

    def check(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"expected {expected}, got an empty value{instead}")
        return text

    return check


_text = _given("a path (a file, folder or glob)")
_target = _given("a target such as 'sla_met_rate >= 0.80'")
_as_of = _given(
    "a store version (`cxreports store history`) or a timestamp such as 2026-03-30T07:00:00Z",
    "; leave --as-of out for the newest snapshot",
)
_week = _given("an ISO week such as 2026-W13", "; leave --week out for the last complete week")


def _line(text: str) -> str:
    """A setting such as a server or a login: one line of text, not blank. Checked here, so
    the error names the flag (the weekly job's config check would blame the config file)."""
    _given("text on one line", "; leave the option out for its default")(text)
    if not text.isprintable():
        raise argparse.ArgumentTypeError("expected text on one line, got control characters")
    return text


def _port(text: str) -> int:
    """A TCP port, 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("expected a port number from 1 to 65535")
    return port


def _addresses(instead: str = "") -> Callable[[str], list[str]]:
    """Email addresses, comma-separated, each checked; ``instead`` says what leaving the
    option out does."""

    def check(text: str) -> list[str]:
        names = _csv_list(text)
        if not names:
            raise argparse.ArgumentTypeError(
                "expected one or more comma-separated email addresses, got none"
                + (f"; {instead}" if instead else "")
            )
        for number, name in enumerate(names, 1):
            try:
                _address(name)
            except argparse.ArgumentTypeError as exc:
                raise argparse.ArgumentTypeError(f"address {number}: {exc}") from None
        return names

    return check


def _address(text: str) -> str:
    from cxreports.mail import is_address

    if not is_address(_line(text)):
        raise argparse.ArgumentTypeError(
            "expected an email address such as 'name@example.com' or 'Name <name@example.com>'"
        )
    return text


def _path(text: str) -> Path:
    return Path(_text(text))


def _date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-03-30, got {text!r}") from exc


if __name__ == "__main__":
    raise SystemExit(main())
