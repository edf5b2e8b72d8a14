"""``cxreports notebooks``: the report notebooks copied for an analyst, reading data that exists,
and the one data path shared by the notebooks, the README and ``./dev.sh reports``."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import nbformat
import pytest

from cxreports import store
from cxreports.cli import main
from cxreports.render import execute_notebook
from cxreports.report import NOTEBOOKS, REPORTS, prepare
from cxreports.workspace import parameter_defaults, set_defaults

ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``cxreports notebooks --out`` run once without a source: the notebooks and the sample."""
    folder = tmp_path_factory.mktemp("analyst") / "work"
    code = main(["notebooks", "--out", str(folder)])
    assert code == 0
    return folder, str(folder)


@pytest.mark.parametrize(
    ("code", "values", "expected"),
    [
        ('week = "2026-W13"  # ISO week', {"week": None}, "week = None  # ISO week"),
        ('source = "a # b"  # where', {"source": "c#d"}, 'source = "c#d"  # where'),
        ("queues = []  # all", {"queues": ["Billing", 'Say "hi"']},
         'queues = ["Billing", "Say \\"hi\\""]  # all'),
        ('source = "ü"  # ü', {"source": "/data/é"}, 'source = "/data/é"  # ü'),
        ("channels = [\n    'a',\n]\nx = 1", {"channels": []}, "channels = []\nx = 1"),
        ("x = 1", {"tz": "UTC"}, 'x = 1\ntz = "UTC"\n'),
        ("min_volume = 20", {"min_volume": 5, "frt_target_s": 30.5},
         "min_volume = 5\nfrt_target_s = 30.5\n"),
    ],
)  # fmt: skip
def test_set_defaults_replaces_values_and_keeps_comments(code, values, expected):
    assert set_defaults(code, values) == expected


def test_the_copies_read_the_sample_store_written_beside_them(workspace, capsys):
    folder, _ = workspace
    assert sorted(p.name for p in folder.glob("*.ipynb")) == NAMES
    assert store.is_store(folder / "data" / "store")
    assert list((folder / "data" / "sample").glob("*.json"))
    for name in NAMES:
        defaults = parameter_defaults(folder / name)
        assert defaults["source"] == "data/store"  # relative: the folder can move
        assert (defaults["week"], defaults["tz"]) == ("2026-W13", "Asia/Singapore")
        assert defaults["render_mode"] == "interactive"
        nb = nbformat.read(folder / name, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code)
        # the header names the command that renders the same figures
        assert (
            "cxreports report all data/store --week 2026-W13 --tz Asia/Singapore" in code[0].source
        )
        # only the parameters cell differs from the installed notebook
        original = nbformat.read(NOTEBOOKS / name, as_version=4)
        assert [c.source for c in nb.cells[1:]] == [c.source for c in original.cells[1:]]


def test_a_second_run_keeps_the_copies_and_an_edited_one_is_never_overwritten(workspace, capsys):
    folder, _ = workspace
    code, out, _ = run(capsys, "notebooks", "--out", str(folder))
    assert code == 0
    assert out.count("(already up to date)") == len(NAMES)

    edited = folder / "csat_sla.ipynb"
    text = edited.read_text().replace("## Worst hours", "## Worst hours (ours)")
    edited.write_text(text)
    code, out, err = run(capsys, "notebooks", "--out", str(folder), "--week", "2026-W12")
    assert (code, out) == (11, "")
    [line] = err.strip().splitlines()
    assert f"{edited} already exists and differs from a fresh copy" in line
    assert "--force" in line
    assert edited.read_text() == text
    # nothing at all was written: the untouched copies still hold the old week
    assert parameter_defaults(folder / "agent_performance.ipynb")["week"] == "2026-W13"

    # once the edited one is moved away, the unedited copies take the new defaults
    edited.rename(folder / "mine.ipynb")
    code, out, _ = run(capsys, "notebooks", "--out", str(folder), "--week", "2026-W12")
    assert code == 0 and out.count("wrote ") == len(NAMES)
    assert parameter_defaults(folder / "agent_performance.ipynb")["week"] == "2026-W12"

    (folder / "mine.ipynb").rename(edited)
    code, out, _ = run(capsys, "notebooks", "--out", str(folder), "--force")
    assert code == 0 and f"wrote {edited}" in out
    assert "(ours)" not in edited.read_text()
    assert parameter_defaults(edited)["week"] == "2026-W13"


def test_a_source_is_written_as_an_absolute_path_with_the_commands_defaults(
    sample_dir, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(sample_dir.parent)
    code, out, _ = run(
        capsys, "notebooks", "--out", str(tmp_path / "w"), "--source", sample_dir.name,
        "--queues", "Billing",
    )  # fmt: skip
    assert code == 0
    defaults = parameter_defaults(tmp_path / "w" / "agent_performance.ipynb")
    assert defaults["source"] == str(sample_dir)
    # the defaults of `cxreports report`: the last complete week, UTC
    assert (defaults["week"], defaults["tz"], defaults["queues"]) == (None, "UTC", ["Billing"])
    assert f"cxreports report all {sample_dir.name} --tz UTC --queues Billing" in out
    assert not (tmp_path / "w" / "data").exists()


def test_the_options_of_report_are_written_into_every_notebook(workspace, tmp_path, capsys):
    # --as-of, --team-map, --teams, --target and --business-hours were missing, though the
    # README promises the options of `cxreports report` and the parameters cell has them all
    folder, _ = workspace
    source = folder / "data" / "store"
    (tmp_path / "teams.csv").write_text("agent_id,team,lead\na-1,North,Dana\n")
    (tmp_path / "hours.toml").write_text('[business_hours]\nmon-fri = "09:00-17:00"\n')
    out = tmp_path / "w"
    code, stdout, _ = run(
        capsys, "notebooks", "--out", str(out), "--source", str(source), "--week", "2026-W13",
        "--as-of", "0", "--team-map", str(tmp_path / "teams.csv"), "--teams", "North",
        "--target", "sla_met_rate >= 0.8 at_risk=0.05", "--target", "frt_business_median_s <= 3600",
        "--business-hours", str(tmp_path / "hours.toml"),
    )  # fmt: skip
    assert code == 0
    for name in NAMES:
        defaults = parameter_defaults(out / name)
        assert defaults["as_of"] == 0, name
        assert defaults["team_map"] == str(tmp_path / "teams.csv"), name
        assert defaults["teams"] == ["North"], name
        assert defaults["targets"] == [
            "sla_met_rate >= 0.8 at_risk=0.05",
            "frt_business_median_s <= 3600",
        ], name
        assert defaults["business_hours"]["mon"] == "09:00-17:00", name
    # the command printed (and in each notebook's header) renders the same figures
    command = next(line for line in stdout.splitlines() if "cxreports report all" in line)
    words = shlex.split(command.split(":  ", 1)[1])
    assert words[words.index("--as-of") + 1] == "0"
    assert words[words.index("--teams") + 1] == "North"
    assert words[words.index("--business-hours") + 1] == str(tmp_path / "hours.toml")
    assert [words[i + 1] for i, w in enumerate(words) if w == "--target"] == [
        "sla_met_rate >= 0.8 at_risk=0.05",
        "frt_business_median_s <= 3600",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--as-of", "0"], "as_of (--as-of) reads a store as it was: give the store"),
        (["--teams", "North"], "teams (--teams) filters by team and needs the teams mapping"),
        (["--target", "frt_business_median_s <= 60"], "needs the business hours"),
        (["--week", "2999-W01"], "week 2999-W01 has not started yet"),
    ],
)
def test_report_options_are_checked_as_report_checks_them(tmp_path, capsys, argv, message):
    out = tmp_path / "w"
    code, stdout, stderr = run(capsys, "notebooks", "--out", str(out), *argv)
    assert (code, stdout) == (2, "")
    [line] = stderr.strip().splitlines()
    assert line.startswith("cxreports notebooks: error: ") and message in line
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--source", "MISSING"], 3, "no such file or directory"),
        (["--week", "2026-W99"], 2, "has no ISO week 99"),
        (["--tz", "Mars/Olympus"], 2, "unknown time zone"),
        (["--min-volume", "0"], 2, "min_volume must be a whole number from 1"),
    ],
)
def test_bad_options_write_nothing(tmp_path, capsys, argv, code, message):
    names = {"MISSING": str(tmp_path / "missing")}
    out = tmp_path / "w"
    got, stdout, stderr = run(
        capsys, "notebooks", "--out", str(out), *[names.get(a, a) for a in argv]
    )
    assert (got, stdout) == (code, "")
    [line] = stderr.strip().splitlines()
    assert line.startswith("cxreports notebooks: error: ") and message in line
    assert not out.exists()


def test_the_checkout_notebooks_read_what_dev_sh_reports_renders():
    # one data path: JupyterLab on notebooks/, `./dev.sh reports` and the README's command
    dev = (ROOT / "dev.sh").read_text()
    [line] = re.findall(r'cxreports" report all (.*)', dev)
    words = shlex.split(line)
    source, week, tz = words[0], words[words.index("--week") + 1], words[words.index("--tz") + 1]
    assert f'cxreports" load "$data" --out {source}' in dev
    readme = (ROOT / "README.md").read_text()
    for name in NAMES:
        defaults = parameter_defaults(NOTEBOOKS / name)
        assert (NOTEBOOKS / str(defaults["source"])).resolve() == (ROOT / source).resolve(), name
        assert (defaults["week"], defaults["tz"]) == (week, tz), name
        assert f"cxreports report all {source} --week {week} --tz {tz}" in readme


@pytest.mark.slow
def test_a_copied_notebook_runs_as_it_is_and_agrees_with_the_command(workspace, tmp_path):
    folder, _ = workspace
    executed = execute_notebook(folder / "csat_sla.ipynb", {}, tmp_path / "run.ipynb")
    outputs = "".join(
        str(output.get("data", {}).get("text/html", ""))
        for cell in nbformat.read(executed, as_version=4).cells
        for output in cell.get("outputs", [])
    )
    # the fingerprint of the data `cxreports report all data/store ...` reads
    logs, _ = prepare(folder / "data" / "store", "2026-W13", "Asia/Singapore")
    assert logs.fingerprint in outputs
    assert "CSAT and SLA" in outputs and "2026-W13" in outputs
    assert set(REPORTS.values()) <= set(NAMES)
