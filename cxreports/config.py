"""The weekly job's settings: a TOML file, read by an explicit call, overridable by flags.

Secrets are not settings: the API token and the SMTP password come from the environment
(``CXREPORTS_API_TOKEN``, ``CXREPORTS_SMTP_PASSWORD``) and a config file that holds a key
named like one is refused.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cxreports.exceptions import ParameterError
from cxreports.fetch import base_url_problem
from cxreports.hours import BusinessHours
from cxreports.hours import from_config as hours_from_config
from cxreports.mail import SmtpSettings, is_address
from cxreports.period import zone
from cxreports.report import (
    Report,
    described,
    notebook_problem,
    report_name_problem,
    team_spellings,
    threshold_problems,
)
from cxreports.schema import tame
from cxreports.targets import BUSINESS_METRICS
from cxreports.targets import from_config as targets_from_config
from cxreports.teams import Teams
from cxreports.teams import from_config as teams_from_config
from cxreports.teams import read as read_teams

EXAMPLE = """\
# cxreports weekly job. Secrets come from the environment, never from this file:
#   CXREPORTS_API_TOKEN (CX API), CXREPORTS_SMTP_PASSWORD (SMTP login).

[source]
path = "data/sample"              # local pages (file, directory or glob) ...
# base_url = "https://cx.example.com/api/cx-logs"   # ... or fetch from the CX API
# raw = "data/raw"                # where fetched pages are kept
# page_size = 100

[report]
tz = "Asia/Singapore"
out = "outputs"
min_volume = 20
frt_target_s = 60
csat_score_field = "room.csat_score"
formats = ["html", "pdf"]
# team_map = "teams.csv"          # agent_id,team,lead: a team roll-up and each agent's team
# scorecards = true               # also a scorecard per agent, to the groups that cover them

[smtp]
host = "smtp.example.com"
port = 587
security = "starttls"             # starttls, ssl or none
user = "reports@example.com"      # leave out to send without logging in
from = "CX Reports <reports@example.com>"

[[groups]]                        # one email per group, reports filtered to its scope
name = "managers"
to = ["head-of-cx@example.com"]

[[groups]]
name = "billing"
to = ["billing-lead@example.com"]
queues = ["Billing"]

# [[groups]]                      # a team lead gets their team's reports (needs teams)
# name = "team-north"
# to = ["north-lead@example.com"]
# teams = ["North"]

# Targets, shown with their status (met, at risk, missed) in the reports:
# [[targets]]
# metric = "sla_met_rate"         # any rate, duration or count of docs/metrics.md
# min = 0.80                      # min: higher is better; max: lower is better
# at_risk = 0.05                  # optional: met, but within 5 pp of the target
# queue = "Billing"               # optional: one queue, channel or team

# Opening hours, in the report's tz: first response and resolution also in business time,
# and the interactions that started outside hours. A day not named is closed.
# [business_hours]
# mon-fri = "08:30-12:30, 13:30-18:00"   # a day (mon) or a range (mon-fri); several intervals
# sat = "10:00-14:00"
# holidays = ["2026-12-25", "2026-12-26"]   # closed all day
# frt_clock = "business"          # frt_target_s on business time (default: "calendar")
# [business_hours.queues."Priority Support"]   # a queue with its own hours (and the
# mon-sun = "00:00-24:00"                      # holidays above unless it names its own)

# The teams, if not in a team_map file: agents missing from them are "Unassigned".
# [[teams]]
# name = "North"
# lead = "Dana Whitfield"
# agents = ["a-17", "a-23"]

# [[reports]]                     # a team's own notebook: rendered for every group beside the
# notebook = "reports/team_review.ipynb"  # built-in reports, and attached to its email
# name = "team-review"            # optional: names its files (default: from the file name)
# title = "Team review"           # optional: heads the HTML and PDF

[alerts]
operator = "ops@example.com"      # told when a run fails (optional)
"""


#: A group name becomes a folder under ``out`` and a key of the send log, so it is kept to
#: these characters (no ``/``, ``..``, leading dot, spaces or control characters).
GROUP_NAME_RULE = "1 to 64 ASCII letters, digits, '-' or '_', starting with a letter or digit"
_GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: The group of ``weekly --to``: a name no config group can have (they start with a letter or
#: digit), so that a test send never stands for a group of the config in the send log.
TO_GROUP = "_to"
# `cxreports report` writes OUT/<week>/: a group named like a week would share that folder
_WEEK_LIKE = re.compile(r"\d{4}-?W\d{2}", re.IGNORECASE)
_SECURITY = ("starttls", "ssl", "none")
_CONFIG_MAX_BYTES = 1_000_000


@dataclass(frozen=True)
class Group:
    """Recipients of one email and the scope their reports are filtered to."""

    name: str
    to: tuple[str, ...]
    queues: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    #: Teams of ``[report] team_map`` (``Unassigned``: agents it does not name).
    teams: tuple[str, ...] = ()
    #: The command-line option that made the group (``--to``), None for a group of the config.
    flag: str | None = None


@dataclass(frozen=True)
class Config:
    """Everything the weekly job needs; see :data:`EXAMPLE` for the file format."""

    source_path: str | None = None
    base_url: str | None = None
    raw: str = "data/raw"
    page_size: int = 100
    tz: str = "UTC"
    out: str = "outputs"
    min_volume: int = 20
    frt_target_s: float = 60.0
    csat_score_field: str = "room.csat_score"
    formats: tuple[str, ...] = ("html", "pdf")
    #: A CSV of agent_id,team,lead (see :mod:`cxreports.teams`), relative to the job's folder.
    team_map: str | None = None
    #: The same mapping written in the config: ``[[teams]]`` tables (name, lead, agents).
    team_tables: tuple[dict[str, Any], ...] = ()
    #: Targets: ``[[targets]]`` tables (metric, min or max, at_risk, queue/channel/team).
    target_tables: tuple[dict[str, Any], ...] = ()
    #: Opening hours: ``[business_hours]`` (see :mod:`cxreports.hours`).
    business_hours: BusinessHours | None = None
    #: Whether each group also gets the agent scorecards of the agents its scope covers.
    scorecards: bool = False
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str | None = None
    sender: str | None = None
    groups: tuple[Group, ...] = ()
    #: Custom report notebooks, rendered for every group beside the built-in reports.
    reports: tuple[Report, ...] = ()
    operator: str | None = None
    origin: str = "defaults"

    def smtp(self) -> SmtpSettings:
        """The SMTP settings; an error naming what is missing."""
        if not self.smtp_host or not self.sender:
            raise ParameterError(
                f"{self.origin}: [smtp] needs host and from (or --smtp-host and --from)"
            )
        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            security=self.smtp_security,  # type: ignore[arg-type]
            user=self.smtp_user,
            sender=self.sender,
        )

    def check(self) -> Config:
        """Check the whole config before any work: every problem in one :class:`ParameterError`.

        Run by :func:`cxreports.job.run_weekly` before it fetches, loads or renders anything,
        after the command-line flags are applied. Messages name the key and what it must be,
        never the value (a value in the wrong place may be a secret).
        """
        problems = self.problems()
        if not self.smtp_host or not self.sender:
            problems.append("[smtp] needs host and from (or --smtp-host and --from)")
        if not self.groups:
            problems.append("no [[groups]] of recipients (or --to)")
        if not self.source_path and not self.base_url:
            problems.append("[source] needs path or base_url (or --source or --base-url)")
        if problems:
            raise ParameterError(_joined(self.origin, problems))
        return self

    def problems(self) -> list[str]:
        """What is wrong with the values present, one sentence each; settings not given yet
        (the SMTP server, the groups, the source) are not missed here but by :meth:`check`."""
        from cxreports.render import EXPORTERS

        problems: list[str] = []
        if self.source_path and self.base_url:
            problems.append("[source] takes path or base_url, not both")
        if self.base_url and (problem := base_url_problem(self.base_url, "[source] base_url")):
            problems.append(problem)
        for key, value in (
            ("[source] path", self.source_path),
            ("[source] raw", self.raw),
            ("[report] out", self.out),
        ):
            if value is not None and not _is_line(value):
                problems.append(f"{key} must be a path (non-empty text, no control characters)")
        if not _whole(self.page_size, 1, 10_000):
            problems.append(
                f"[source] page_size must be a whole number from 1 to 10,000, got "
                f"{described(self.page_size)}"
            )
        try:
            zone(self.tz)
        except ParameterError:
            problems.append(
                "[report] tz must be an IANA time zone such as 'UTC' or 'Asia/Singapore'"
            )
        problems += [
            f"[report] {problem}"
            for problem in threshold_problems(
                self.min_volume, self.frt_target_s, self.csat_score_field
            )
        ]
        mapping = None
        if self.team_tables and self.team_map is not None:
            problems.append("give the teams as [report] team_map or as [[teams]], not both")
        elif self.team_tables:
            try:
                mapping = self.teams()
            except ParameterError as exc:
                problems.append(str(exc))
        if self.target_tables:
            try:
                for goal in targets_from_config(self.target_tables):
                    if goal.team is not None and mapping is None and self.team_map is None:
                        problems.append(
                            f"[[targets]] {goal.text()}: a team's target needs the teams"
                        )
                    if goal.metric in BUSINESS_METRICS and self.business_hours is None:
                        problems.append(
                            f"[[targets]] {goal.text()}: a business-time figure needs "
                            "[business_hours]"
                        )
            except ParameterError as exc:
                problems.append(str(exc))
        if self.team_map is not None:
            if not _is_line(self.team_map):
                problems.append("[report] team_map must be a path (non-empty text, one line)")
            else:
                try:
                    mapping = read_teams(self.team_map)
                except ParameterError as exc:
                    problems.append(f"[report] team_map: {exc}")
        formats = list(self.formats)
        if not formats or not all(f in EXPORTERS for f in formats):
            problems.append(
                f"[report] formats must be a list of one or more of "
                f"{', '.join(map(repr, EXPORTERS))}"
            )
        if self.smtp_host is not None and not re.fullmatch(r"[^\s/]{1,253}", self.smtp_host):
            problems.append("[smtp] host must be a server name or address, without spaces")
        if not _whole(self.smtp_port, 1, 65535):
            problems.append(
                "[smtp] port must be a whole number from 1 to 65535, got "
                + described(self.smtp_port)
            )
        if self.smtp_security not in _SECURITY:
            problems.append(f"[smtp] security must be one of {', '.join(_SECURITY)}")
        if self.smtp_user is not None and not _is_line(self.smtp_user):
            problems.append("[smtp] user must be non-empty text on one line")
        if self.sender is not None and not is_address(self.sender):
            problems.append(_address_rule("[smtp] from"))
        if self.operator is not None and not is_address(self.operator):
            problems.append(_address_rule("[alerts] operator"))
        seen: dict[str, int] = {}
        for number, group in enumerate(self.groups, 1):
            problems += _group_problems(number, group, seen)
            if group.teams and self.team_map is None and not self.team_tables:
                problems.append(
                    f"[[groups]] #{number} ({group.name}): teams filters by team and needs "
                    "the teams: [report] team_map (a CSV of agent_id,team,lead) or [[teams]]"
                )
            elif group.teams and mapping is not None:
                spelt = team_spellings(mapping)  # found as --teams finds them
                if unknown := [t for t in group.teams if tame(t).casefold() not in spelt]:
                    problems.append(
                        f"[[groups]] #{number} ({group.name}): unknown team(s) "
                        f"{', '.join(map(repr, unknown))}: [report] team_map names "
                        f"{', '.join(map(repr, spelt.values()))}"
                    )
        names: dict[str, int] = {}
        for number, report in enumerate(self.reports, 1):
            problems += _report_problems(number, report, names)
        return problems

    def teams(self) -> Teams | None:
        """The mapping of agents to teams: ``[report] team_map`` read, or the ``[[teams]]``."""
        if self.team_tables:
            return teams_from_config(self.team_tables, "the [[teams]] tables")
        if self.team_map is not None:
            return read_teams(self.team_map)
        return None

    def with_overrides(self, **values: Any) -> Config:
        """A copy with every non-None value replaced (command-line flags win over the file)."""
        changes = {k: v for k, v in values.items() if v is not None}
        if "to" in changes:
            changes["groups"] = (Group(TO_GROUP, tuple(changes.pop("to")), flag="--to"),)
        return replace(self, **changes)


_SECTIONS: dict[str, dict[str, tuple[str, type | tuple[type, ...]]]] = {
    "source": {
        "path": ("source_path", str),
        "base_url": ("base_url", str),
        "raw": ("raw", str),
        "page_size": ("page_size", int),
    },
    "report": {
        "tz": ("tz", str),
        "out": ("out", str),
        "min_volume": ("min_volume", int),
        "frt_target_s": ("frt_target_s", (int, float)),
        "csat_score_field": ("csat_score_field", str),
        "team_map": ("team_map", str),
        "formats": ("formats", list),
        "scorecards": ("scorecards", bool),
    },
    "smtp": {
        "host": ("smtp_host", str),
        "port": ("smtp_port", int),
        "security": ("smtp_security", str),
        "user": ("smtp_user", str),
        "from": ("sender", str),
    },
    "alerts": {"operator": ("operator", str)},
}
_SECRET_WORDS = ("password", "token", "secret")


def read_config(path: str | Path) -> Config:
    """Read and check a config file; every problem names the file, the key and what to do.

    All problems found are reported together, in one :class:`ParameterError`; a value is
    never repeated in it (a value in the wrong place may be a secret).
    """
    path = Path(path)
    data = _parse(path)
    problems: list[str] = []
    values: dict[str, Any] = {"origin": str(path)}
    for section, content in data.items():
        if section == "groups":
            groups = _group_tables(content, problems)
            values["groups"] = tuple(g for g in groups if g is not None)
            continue
        if section == "targets":
            values["target_tables"] = tuple(raw for _, raw in _tables(content, "targets", problems))
            continue
        if section == "teams":
            values["team_tables"] = tuple(raw for _, raw in _tables(content, "teams", problems))
            continue
        if section == "business_hours":
            try:
                values["business_hours"] = hours_from_config(content, "[business_hours]")
            except ParameterError as exc:
                problems.append(str(exc))
            continue
        if section == "reports" and isinstance(content, list):
            reports = _report_tables(content, problems)
            values["reports"] = tuple(r for r in reports if r is not None)
            continue
        keys = _SECTIONS.get(section)
        if keys is None or not isinstance(content, dict):
            problems.append(
                f"unknown section [{section}]; expected "
                + ", ".join(
                    f"[{s}]"
                    for s in (
                        *_SECTIONS,
                        "[groups]",
                        "[reports]",
                        "[teams]",
                        "[targets]",
                        "business_hours",
                    )
                )
            )
            continue
        for key, value in content.items():
            if _is_secret(key):
                problems.append(_secret_rule(section, key))
                continue
            if key not in keys:
                problems.append(
                    f"unknown key {key!r} in [{section}]; expected one of " + ", ".join(keys)
                )
                continue
            name, kind = keys[key]
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                problems.append(f"[{section}] {key} must be {_kind(kind)}, got {described(value)}")
                continue
            if isinstance(value, list):
                if not all(isinstance(v, str) for v in value):
                    problems.append(f"[{section}] {key} must be a list of text")
                    continue
                value = tuple(value)
            values[name] = value
    if problems:
        raise ParameterError(_joined(path, problems))
    config = Config(**values)
    if problems := config.problems():
        raise ParameterError(_joined(path, problems))
    return config


def _parse(path: Path) -> dict[str, Any]:
    where = f"{path}: cannot read the config file"
    try:
        if not path.is_file():
            missing = not path.exists()
            raise ParameterError(
                f"{path}: no such config file (start from `cxreports config`)"
                if missing
                else f"{path}: not a file (a folder or a device?); give the path of the TOML "
                "config file, e.g. cxreports.toml (start from `cxreports config`)"
            )
        if path.stat().st_size > _CONFIG_MAX_BYTES:
            raise ParameterError(
                f"{path}: over {_CONFIG_MAX_BYTES:,} bytes, too large to be a config file; "
                "give the TOML config (start from `cxreports config`)"
            )
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParameterError(
            f"{where} ({exc.strerror}); check the path and its permissions"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{where}: it is not UTF-8 text; give the TOML config") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{path}: not valid TOML: {exc}") from exc


def _tables(content: Any, section: str, problems: list[str]) -> list[tuple[int, dict]]:
    """The tables of an ``[[section]]`` array, numbered from 1; a problem for each non-table."""
    if not isinstance(content, list):
        problems.append(f"{section} must be written as [[{section}]] tables")
        return []
    tables = []
    for number, raw in enumerate(content, 1):
        if isinstance(raw, dict):
            tables.append((number, raw))
        else:
            problems.append(f"[[{section}]] #{number} must be a table")
    return tables


def _keys_problems(section: str, number: int, raw: dict, allowed: tuple[str, ...]) -> list[str]:
    """A problem for each secret-looking or unknown key of one ``[[section]]`` table."""
    where, expected = f"[[{section}]] #{number}", ", ".join(allowed)
    return [
        _secret_rule(section, key)
        if _is_secret(key)
        else f"{where}: unknown key {key!r}; expected {expected}"
        for key in raw
        if _is_secret(key) or key not in allowed
    ]


def _group_tables(content: Any, problems: list[str]) -> list[Group | None]:
    return [_group(n, raw, problems) for n, raw in _tables(content, "groups", problems)]


def _group(number: int, raw: dict, problems: list[str]) -> Group | None:
    where = f"[[groups]] #{number}"
    found = len(problems)
    problems += _keys_problems("groups", number, raw, ("name", "to", "queues", "channels", "teams"))
    name, to = raw.get("name"), raw.get("to")
    if not isinstance(name, str):
        problems.append(f"{where}: name must be text ({GROUP_NAME_RULE}), got {described(name)}")
    if not isinstance(to, list) or not all(isinstance(a, str) for a in to):
        problems.append(f"{where}: to must be a list of addresses, got {described(to)}")
    lists = {k: raw.get(k, []) for k in ("queues", "channels", "teams")}
    for key, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{where}: {key} must be a list of names (text)")
    if len(problems) > found:
        return None
    return Group(
        name, tuple(to), tuple(lists["queues"]), tuple(lists["channels"]), tuple(lists["teams"])
    )


def _group_problems(number: int, group: Group, seen: dict[str, int]) -> list[str]:
    where = f"[[groups]] #{number}"
    problems = []
    if group.flag is not None:
        where = group.flag
    elif not _GROUP_NAME.fullmatch(group.name) or _WEEK_LIKE.fullmatch(group.name):
        problems.append(
            f"{where}: name must be {GROUP_NAME_RULE}, and not shaped like a week (it names "
            f"the group's folder); got {_name_fault(group.name)}"
        )
    else:
        where = f"{where} ({group.name})"
        first = seen.setdefault(group.name.casefold(), number)
        if first != number:
            problems.append(
                f"{where}: the name is taken by [[groups]] #{first} (names are compared "
                "ignoring case); each group needs its own name, as it names its output folder"
            )
    to = where if group.flag is not None else f"{where}: to"
    if not group.to:
        problems.append(f"{to} must be a non-empty list of addresses")
    elif bad := [i for i, address in enumerate(group.to, 1) if not is_address(address)]:
        problems.append(_address_rule(f"{to}, address {bad[0]}"))
    for key in ("queues", "channels", "teams"):
        if not all(_is_line(v) for v in getattr(group, key)):
            problems.append(f"{where}: {key} must be a list of names (non-empty text)")
    return problems


def _report_tables(content: Any, problems: list[str]) -> list[Report | None]:
    return [_report(n, raw, problems) for n, raw in _tables(content, "reports", problems)]


def _report(number: int, raw: dict, problems: list[str]) -> Report | None:
    where = f"[[reports]] #{number}"
    found = len(problems)
    problems += _keys_problems("reports", number, raw, ("notebook", "name", "title"))
    notebook = raw.get("notebook")
    if not _is_line(notebook):
        problems.append(
            f"{where}: notebook must be the path of an .ipynb file, got {described(notebook)}"
        )
    for key in ("name", "title"):
        if key in raw and not _is_line(raw[key]):
            problems.append(f"{where}: {key} must be text on one line, got {described(raw[key])}")
    if len(problems) > found:
        return None
    path = Path(notebook)
    name = raw.get("name", path.stem.lower().replace("_", "-"))
    return Report(name, path, raw.get("title", name.replace("-", " ").capitalize()))


def _report_problems(number: int, report: Report, seen: dict[str, int]) -> list[str]:
    where = f"[[reports]] #{number}"
    problems = []
    if problem := notebook_problem(report.notebook):
        problems.append(f"{where}: {problem}")
    if problem := report_name_problem(report.name):
        problems.append(f"{where}: {problem} (set name, or rename the notebook it comes from)")
    else:
        where = f"{where} ({report.name})"
        first = seen.setdefault(report.name, number)
        if first != number:
            problems.append(
                f"{where}: the name is taken by [[reports]] #{first}; each report needs its own "
                "name, as it names the output files"
            )
    if len(report.title) > 120:
        problems.append(f"{where}: title must be at most 120 characters")
    return problems


def _name_fault(name: str) -> str:
    """What is wrong with a group name, without repeating it."""
    if not name:
        return "empty text"
    bad = next((i for i, c in enumerate(name) if not re.fullmatch(r"[A-Za-z0-9_-]", c)), None)
    if bad is not None:
        return f"a name whose character {bad + 1} is not allowed"
    if len(name) > 64:
        return f"a name of {len(name)} characters"
    return "a name that starts with '-' or '_'" if name[0] in "-_" else "a name like a week"


def _joined(origin: str | Path, problems: list[str]) -> str:
    many = f"{len(problems)} problems: " if len(problems) > 1 else ""
    return f"{origin}: {many}" + "; ".join(problems)


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_line(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and value.isprintable()


def _address_rule(key: str) -> str:
    return f"{key} must be an email address such as 'name@example.com' or 'Name <name@example.com>'"


def _is_secret(key: str) -> bool:
    return any(word in key.lower() for word in _SECRET_WORDS)


def _secret_rule(section: str, key: str) -> str:
    return (
        f"[{section}] {key}: secrets do not belong in the config file; set "
        "CXREPORTS_SMTP_PASSWORD or CXREPORTS_API_TOKEN in the environment instead"
    )


def _kind(kind: type | tuple[type, ...]) -> str:
    words = {
        str: "text",
        int: "a whole number",
        float: "a number",
        list: "a list",
        bool: "true or false",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(words[k] for k in kinds)
