"""Teams: which team each agent belongs to and who leads it (optional, from a CSV or the config).

A mapping is a CSV file with a header row, ``agent_id,team`` and optionally ``lead``::

    agent_id,team,lead
    a-17,Billing A,Dana Whitfield
    a-23,Billing A,Dana Whitfield
    a-31,Returns,Ola Mensah

or the weekly config's ``[[teams]]`` tables (``name``, ``lead``, ``agents``). It is checked whole
when read, every problem at once: an unknown column, an empty cell, an agent in two teams, a
team with two leads. Agents the mapping does not name belong to :data:`UNASSIGNED`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cxreports.exceptions import ParameterError

#: The team of an agent the mapping does not name.
UNASSIGNED = "Unassigned"

#: The columns of a mapping, in order; ``lead`` may be left out.
COLUMNS = ("agent_id", "team", "lead")

#: The schema of :attr:`Teams.members`.
SCHEMA = pl.Schema({"agent_id": pl.String, "team": pl.String, "lead": pl.String})

_MAX_NAME = 100
_MAX_ROWS = 100_000
_MAX_PROBLEMS = 5


@dataclass(frozen=True)
class Teams:
    """Agents and their teams: ``members`` has one row per agent (``agent_id``, ``team``,
    ``lead``, the lead null where none is given); ``origin`` names where it came from."""

    members: pl.DataFrame
    origin: str

    @property
    def names(self) -> list[str]:
        """The teams, sorted."""
        return sorted(self.members["team"].unique().to_list())

    def leads(self) -> pl.DataFrame:
        """One row per team: ``team`` and its ``lead`` (null if none was given)."""
        return self.members.group_by("team").agg(pl.col("lead").drop_nulls().first()).sort("team")


def read(path: str | Path) -> Teams:
    """The mapping in the CSV file at ``path`` (UTF-8, a BOM allowed; blank lines skipped).

    Raises :class:`ParameterError` with one line naming the file and every problem found.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "teams.csv")
    >>> _ = open(f, "w").write("agent_id,team\\na1,Alpha\\na2,Alpha\\n")
    >>> read(f).members.rows()
    [('a1', 'Alpha', None), ('a2', 'Alpha', None)]
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ParameterError(f"{path}: no such teams file (a CSV of agent_id,team,lead)") from None
    except IsADirectoryError:
        raise ParameterError(f"{path}: is a folder; the teams file is a CSV file") from None
    except OSError as exc:
        raise ParameterError(f"{path}: cannot read the teams file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ParameterError(f"{path}: the teams file is not UTF-8 text") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or not any(h.strip() for h in header):
        raise ParameterError(f"{path}: the teams file is empty; its first line names the columns")
    header = [h.strip() for h in header]
    problems = []
    if unknown := [h for h in header if h not in COLUMNS]:
        problems.append(
            f"unknown column(s) {', '.join(map(repr, unknown))} (expected agent_id, team and "
            "optionally lead)"
        )
    if missing := [c for c in ("agent_id", "team") if c not in header]:
        problems.append(f"no {' or '.join(missing)} column")
    if len(set(header)) != len(header):
        problems.append("a column is named twice")
    if problems:
        raise ParameterError(f"{path}: " + "; ".join(problems))
    entries = []
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {line} has {len(row)} fields, not {len(header)}")
            continue
        entries.append((f"line {line}", dict(zip(header, (c.strip() for c in row), strict=True))))
        if len(entries) > _MAX_ROWS:
            raise ParameterError(f"{path}: more than {_MAX_ROWS:,} agents; is this the right file?")
    return _checked(entries, str(path), problems)


def from_config(tables: Sequence[Mapping[str, object]], origin: str) -> Teams:
    """The mapping of the weekly config's ``[[teams]]`` tables (``name``, ``agents``, ``lead``).

    Examples
    --------
    >>> from_config([{"name": "Alpha", "lead": "Dana", "agents": ["a1"]}], "cx.toml").members.rows()
    [('a1', 'Alpha', 'Dana')]
    """
    entries, problems = [], []
    for i, table in enumerate(tables, start=1):
        where = f"[[teams]] #{i}"
        if extra := sorted(set(table) - {"name", "lead", "agents"}):
            problems.append(
                f"{where}: unknown key(s) {', '.join(extra)} (expected name, lead, agents)"
            )
            continue
        agents = table.get("agents")
        if not isinstance(agents, list) or not agents:
            problems.append(f"{where}: agents must be a non-empty list of agent ids")
            continue
        for agent in agents:
            entries.append(
                (
                    where,
                    {
                        "agent_id": agent if isinstance(agent, str) else None,
                        "team": table.get("name"),
                        "lead": table.get("lead", ""),
                    },
                )
            )
    return _checked(entries, origin, problems)


def _checked(entries: list[tuple[str, dict]], origin: str, problems: list[str]) -> Teams:
    team_of: dict[str, tuple[str, str]] = {}
    lead_of: dict[str, tuple[str, str]] = {}
    rows = []
    told: set[tuple[str, str]] = set()
    for where, entry in entries:
        agent, team, lead = (entry.get(c) for c in COLUMNS)
        bad = [c for c, v in (("agent_id", agent), ("team", team)) if not _name(v)]
        if lead not in (None, "") and not _name(lead):
            bad.append("lead")
        if bad:
            problems.append(
                f"{where}: {' and '.join(bad)} must be text of 1 to {_MAX_NAME} characters"
            )
            continue
        if team == UNASSIGNED:
            problems.append(f"{where}: {UNASSIGNED!r} is kept for agents in no team; rename it")
            continue
        if agent in team_of and team_of[agent][0] != team:
            other, seen = team_of[agent]
            problems.append(
                f"agent {agent!r} is in two teams: {other!r} ({seen}) and {team!r} ({where})"
            )
            continue
        if lead and team in lead_of and lead_of[team][0] != lead:
            other, seen = lead_of[team]
            if (team, lead) not in told:  # said once, not for each row of that lead
                told.add((team, lead))
                problems.append(
                    f"team {team!r} has two leads: {other!r} ({seen}) and {lead!r} ({where})"
                )
            continue
        if lead:
            lead_of.setdefault(team, (lead, where))
        if agent not in team_of:
            team_of[agent] = (team, where)
            rows.append((agent, team))
    if problems:
        more = len(problems) - _MAX_PROBLEMS
        shown = problems[:_MAX_PROBLEMS] + ([f"and {more} more"] if more > 0 else [])
        raise ParameterError(f"{origin}: " + "; ".join(shown))
    if not rows:
        raise ParameterError(f"{origin}: the teams mapping names no agent")
    members = pl.DataFrame(
        [(a, t, lead_of.get(t, (None,))[0]) for a, t in rows], schema=SCHEMA, orient="row"
    )
    return Teams(members.sort("team", "agent_id"), origin)


def _name(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= _MAX_NAME and value.isprintable()


def with_team(frame: pl.LazyFrame, teams: Teams | None) -> pl.LazyFrame:
    """``frame`` with a ``team`` column from its ``agent_id`` (:data:`UNASSIGNED` for agents the
    mapping does not name, or for rows without an agent); unchanged without a mapping."""
    if teams is None:
        return frame
    mapping = teams.members.lazy().select("agent_id", "team")
    return frame.join(mapping, on="agent_id", how="left", maintain_order="left").with_columns(
        pl.col("team").fill_null(UNASSIGNED)
    )


def in_teams(
    frame: pl.LazyFrame, team_map: Teams | None, names: Sequence[str] | None
) -> pl.LazyFrame:
    """The rows of ``frame`` whose agent is in one of the teams ``names`` (:data:`UNASSIGNED`:
    an agent the mapping does not name, or none); all rows without ``names``."""
    if not names:
        return frame
    if team_map is None:
        raise ParameterError("a team filter needs the teams mapping (team_map)")
    members = team_map.members
    agent = pl.col("agent_id")
    keep = agent.is_in(members.filter(pl.col("team").is_in(list(names)))["agent_id"].implode())
    if UNASSIGNED in names:
        keep = keep | agent.is_null() | ~agent.is_in(members["agent_id"].implode())
    return frame.filter(keep.fill_null(False))
