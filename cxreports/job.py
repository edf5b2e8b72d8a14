"""The weekly job for a scheduler: fetch (or read), render every group's reports, email them.

Safe to run from cron: one run at a time (a lock file), nothing emailed unless every report of
every group rendered, a week already sent is not sent again (unless ``resend``), and every log
line carries the run id and the step, on stderr.
"""

from __future__ import annotations

import contextlib
import html
import logging
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cxreports import mail, scope, store
from cxreports.config import Config, Group
from cxreports.deliver import send_week
from cxreports.exceptions import (
    CxReportsError,
    EmptyDataError,
    JobError,
    MailError,
    ParameterError,
)
from cxreports.iorw import exclusive_lock, write_atomic
from cxreports.metrics.quality import FCR_WINDOW
from cxreports.metrics.weekly import TREND_WEEKS, first_week
from cxreports.period import Week
from cxreports.report import OPTIONAL, REPORTS, plan, render_runs
from cxreports.targets import as_parameters
from cxreports.targets import from_config as targets_from_config

LOCK_NAME = ".cxreports-weekly.lock"
LOG_FORMAT = "%(asctime)s cxreports run=%(run)s step=%(step)s %(levelname)s %(message)s"

log = logging.getLogger("cxreports.job")


@dataclass(frozen=True)
class JobResult:
    """What a weekly run did."""

    run_id: str
    week: str
    rendered: tuple[str, ...]
    sent: tuple[str, ...]
    skipped: tuple[str, ...]


def setup_logging(level: int = logging.INFO) -> None:
    """Plain, greppable log lines on stderr (UTC timestamps)."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = lambda *_: datetime.now(UTC).timetuple()
    handler.setFormatter(formatter)
    handler.addFilter(_with_context)
    root = logging.getLogger("cxreports")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _with_context(record: logging.LogRecord) -> bool:
    """A record logged outside the job's adapter (fetch's warning of a short total) has no run
    or step: ``-`` for them, not a "Logging error" traceback in the middle of the log."""
    for name in ("run", "step"):
        if not hasattr(record, name):
            setattr(record, name, "-")
    return True


def run_weekly(
    config: Config, week: str | None = None, *, resend: bool = False, run_id: str | None = None
) -> JobResult:
    """Fetch or read the logs, render every report per group, and email each group once.

    Every report is the two built-in ones and the config's ``[[reports]]`` notebooks.

    The config is checked whole first (:meth:`Config.check`): a bad value, or a week that has
    not started yet, raises :class:`ParameterError` before anything is fetched, loaded or
    rendered; an SMTP user whose password variable is unset raises :class:`JobError` then
    too. Raises
    :class:`JobError` (after telling the operator, when one is configured) if any step
    fails; nothing is emailed unless every report of every group rendered.
    """
    run = run_id or uuid.uuid4().hex[:8]
    # the whole config, flags applied, before the lock, the fetch or a kernel
    config.check()
    wk = Week.resolve(week, config.tz).require_started()
    groups = config.groups
    smtp = config.smtp()
    out = Path(config.out)
    step = "start"

    def say(msg: str, *args: object, level: int = logging.INFO) -> None:
        log.log(level, msg, *args, extra={"run": run, "step": step})

    try:
        # a login without its password would otherwise fail at the send, after every render
        mail.login_password(smtp)
    except MailError as exc:
        say("failed: %s", exc, level=logging.ERROR)
        raise JobError(f"run {run} failed at step {step}: {exc}") from exc

    with _lock(out):
        say("week %s in %s for %d group(s)", wk.label, wk.tz, len(groups))
        keys = {g.name: _send_key(wk, g) for g in groups}
        pending = [g for g in groups if resend or not mail.already_sent(out, keys[g.name])]
        skipped = tuple(g.name for g in groups if g not in pending)
        for name in skipped:
            say(
                "group %s already sent for %s; skipped (use --resend to send again)", name, wk.label
            )
        if not pending:
            step = "done"
            say("done: nothing to send, %d group(s) already sent", len(skipped))
            return JobResult(run, wk.label, (), (), skipped)
        try:
            step = "fetch"
            source = _source(config, wk, say)
            step = "check"
            # every group reads one snapshot of a store, whatever a load commits meanwhile
            pinned = {"as_of": store.version(source)} if store.is_store(source) else {}
            _check_scopes(pending, source, pinned.get("as_of"), wk)
            step = "render"
            team_map = _team_map(config, out)
            runs = [
                plan(
                    [*REPORTS, *(OPTIONAL if config.scorecards else ())],
                    [source],
                    wk.label,
                    wk.tz,
                    _group_dir(out, group),
                    formats=config.formats,
                    custom=config.reports,
                    queues=list(group.queues),
                    channels=list(group.channels),
                    min_volume=config.min_volume,
                    frt_target_s=config.frt_target_s,
                    csat_score_field=config.csat_score_field,
                    **pinned,
                    **({"team_map": team_map} if team_map else {}),
                    **({"teams": list(group.teams)} if group.teams else {}),
                    **(
                        {"targets": as_parameters(targets_from_config(config.target_tables))}
                        if config.target_tables
                        else {}
                    ),
                    **(
                        {"business_hours": config.business_hours.as_parameters()}
                        if config.business_hours
                        else {}
                    ),
                )
                for group in pending
            ]
            say("rendering %d group(s): %s", len(runs), ", ".join(g.name for g in pending))
            render_runs(runs)
            step = "send"
            sent = []
            for group in pending:
                week_dir = _group_dir(out, group) / wk.label
                # after a partial refusal, a rerun mails only those who did not get it
                to = [
                    a
                    for a in group.to
                    if resend
                    or not mail.already_sent(out, f"{keys[group.name]}/{mail.bare_address(a)}")
                ]
                try:
                    message_id = send_week(week_dir, smtp, to)
                except MailError as exc:
                    for address in exc.delivered:
                        key = f"{keys[group.name]}/{mail.bare_address(address)}"
                        mail.record_sent(out, key, "(some refused)")
                    raise
                mail.record_sent(out, keys[group.name], str(message_id))
                sent.append(group.name)
                say("sent group %s to %d recipient(s) as %s", group.name, len(to), message_id)
        except CxReportsError as exc:
            say("failed: %s", exc, level=logging.ERROR)
            _tell_operator(config, smtp, run, wk, step, exc, say)
            if step == "check" and isinstance(exc, ParameterError):
                # a filter of the config names nothing in the data
                raise ParameterError(f"{config.origin}: {exc}") from exc
            raise JobError(f"run {run} failed at step {step}: {exc}") from exc
        step = "done"
        say("done: %d sent, %d skipped", len(sent), len(skipped))
        return JobResult(run, wk.label, tuple(g.name for g in pending), tuple(sent), skipped)


def _check_scopes(groups: list[Group], source: str, as_of: int | None, week: Week) -> None:
    """The week against the data's span, then every group's queue and channel filters against
    the data (a store at version ``as_of``), all problems at once."""
    known = scope.known([source], as_of=as_of)
    if not known.started(week.start_utc, week.end_utc):
        # stale data, or a mistyped week: reports of nothing would go out as if all were well
        raise EmptyDataError(
            f"{source}: no interaction started in week {week.label} ({week.tz}); the data "
            f"runs from {known.span()} (UTC): nothing rendered or sent"
        )
    problems = []
    for group in groups:
        try:
            scope.resolve(group.queues, group.channels, known, where=f"group {group.name}: ")
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise ParameterError("; ".join(problems))


def _team_map(config: Config, out: Path) -> str | None:
    """The teams CSV the reports read: ``[report] team_map``, or the ``[[teams]]`` of the
    config written to ``OUT/.cxreports-team-map.csv`` for this run."""
    if not config.team_tables:
        return config.team_map
    mapping = config.teams()
    path = out / ".cxreports-team-map.csv"
    write_atomic(path, mapping.members.write_csv().encode())  # type: ignore[union-attr]
    return str(path)


def _send_key(week: Week, group: Group) -> str:
    """What the send log records a group's email under: the week and the group's name, and
    for ``--to`` its addresses too (a test send to one person is not one to another, and
    never the config's group of that name)."""
    key = f"{week.label}/{group.name}"
    if group.flag is None:
        return key
    return f"{key}/" + ",".join(sorted({mail.bare_address(a) for a in group.to}))


def _group_dir(out: Path, group: Group) -> Path:
    return out / group.name


def _source(config: Config, week: Week, say) -> str:
    if not config.base_url:
        if not config.source_path:
            raise ParameterError(f"{config.origin}: [source] needs path or base_url")
        say("reading %s", config.source_path)
        return config.source_path
    from cxreports.fetch import ApiSettings, fetch

    since, until = fetch_span(week)
    settings = ApiSettings(config.base_url, page_size=config.page_size)
    result = fetch(settings, since, until, config.raw, out_name="[source] raw")
    say(
        "fetched %d page(s), reused %d, %d records into %s",
        result.pages_fetched,
        result.pages_reused,
        result.records,
        result.folder,
    )
    return str(result.folder)


def fetch_span(week: Week, today: date | None = None) -> tuple[date, date]:
    """The UTC dates to fetch for the reports of ``week``: every day their figures read, from
    the first week of the trend or of the baseline of what changed (which start on a local
    Monday, the UTC day before it east of UTC) to the 7 days after the week that first-contact
    resolution looks into, and no later than ``today``. A day more at the end, whether the
    API's ``endDate`` is inclusive or not."""
    start = first_week(week, TREND_WEEKS).start_utc
    end = week.end_utc + FCR_WINDOW
    today = today or datetime.now(UTC).date()
    return start.date(), min(end.date() + timedelta(days=1), today)


def _tell_operator(config, smtp, run, week, step, error, say) -> None:
    if not config.operator:
        return
    text = (
        f"cxreports weekly run {run} for {week.label} failed at step '{step}'.\n\n{error}\n\n"
        "Nothing was emailed to the report recipients. Fix the cause and run the job again;\n"
        "groups already sent are not sent twice.\n"
    )
    body = mail.EmailBody(
        subject=f"cxreports weekly {week.label}: FAILED at {step} (run {run})",
        html=f"<pre>{html.escape(text)}</pre>",
        text=text,
    )
    try:
        mail.send(mail.build_message(body, sender=smtp.sender, to=[config.operator]), smtp)
        say("told the operator %s", config.operator)
    except CxReportsError as exc:
        say("could not tell the operator: %s", exc, level=logging.ERROR)


def _lock(out: Path) -> contextlib.AbstractContextManager[None]:
    """Hold an exclusive lock on ``out/.cxreports-weekly.lock`` for the run."""
    return exclusive_lock(
        out / LOCK_NAME,
        lambda path: JobError(
            f"another weekly run holds {path}; not starting a second one at the same time"
        ),
    )
