from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from cxreports import ParameterError
from cxreports.config import EXAMPLE, Config, Group, read_config
from cxreports.report import NOTEBOOKS, Report


def test_the_example_config_reads(tmp_path):
    path = tmp_path / "cxreports.toml"
    path.write_text(EXAMPLE)
    config = read_config(path)
    assert (config.tz, config.source_path, config.smtp_port) == (
        "Asia/Singapore",
        "data/sample",
        587,
    )
    assert config.groups == (
        Group("managers", ("head-of-cx@example.com",)),
        Group("billing", ("billing-lead@example.com",), queues=("Billing",)),
    )
    assert config.smtp().user == "reports@example.com"


def test_flags_override_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(EXAMPLE)
    config = read_config(path).with_overrides(
        tz="UTC", smtp_port=2525, to=["x@example.com"], out=None
    )
    assert (config.tz, config.smtp_port, config.out) == ("UTC", 2525, "outputs")
    assert config.groups == (Group("_to", ("x@example.com",), flag="--to"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[smtp]\npassword = 'x'", "secrets do not belong in the config file"),
        ("[source]\napi_token = 'x'", "secrets do not belong"),
        ("[report]\ntimezone = 'UTC'", "unknown key 'timezone' in \\[report\\]"),
        ("[reports]\ntz = 'UTC'", "unknown section \\[reports\\]"),
        ("[smtp]\nport = '25'", "port must be a whole number, got text \\(2 characters\\)"),
        ("[smtp]\nport = 70000", "port must be a whole number from 1 to 65535, got 70000"),
        ("[[groups]]\nname = 'a b'\nto = ['x@example.com']", "name must be 1 to 64 ASCII"),
        ("[[groups]]\nname = 'a'\nto = []", "to must be a non-empty list"),
        ("[source]\npath = 'x'\nbase_url = 'http://y'", "path or base_url, not both"),
        ("[source\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=message) as info:
        read_config(path)
    assert str(path) in str(info.value)


def test_missing_smtp_settings_are_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[report]\ntz = 'UTC'\n")
    with pytest.raises(ParameterError, match=r"\[smtp\] needs host and from"):
        read_config(path).smtp()


def _read(tmp_path, text: str) -> Config:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return read_config(path)


GROUP = "[[groups]]\nname = \"{name}\"\nto = ['x@example.com']\n"


@pytest.mark.parametrize(
    "name",
    ["", "../etc", "a/b", "..", ".hidden", "-rf", "a b", "a\\u0000b", "tab\\tname", "bïlling",
     "a" * 65, "2026-W13", "r\\u202eevil", "con:1"],
)  # fmt: skip
def test_a_group_name_that_cannot_be_a_folder_name_is_refused(tmp_path, name):
    with pytest.raises(ParameterError, match="name must be 1 to 64 ASCII letters, digits") as info:
        _read(tmp_path, GROUP.format(name=name))
    assert "../" not in str(info.value) and "\x00" not in str(info.value)


@pytest.mark.parametrize("second", ["billing", "Billing", "BILLING"])
def test_two_groups_with_one_name_are_refused(tmp_path, second):
    # they would share one output folder: one group would be mailed the other's report
    text = GROUP.format(name="billing") + "queues = ['Billing']\n" + GROUP.format(name=second)
    with pytest.raises(ParameterError, match=r"#2 \(\w+\): the name is taken by \[\[groups\]\] #1"):
        _read(tmp_path, text)


def test_allowed_group_names_read(tmp_path):
    text = GROUP.format(name="all-queues") + GROUP.format(name="Billing_2")
    assert [g.name for g in _read(tmp_path, text).groups] == ["all-queues", "Billing_2"]


SECRET = "hunter2-s3cr3t"
EVERY_FIELD_WRONG = f"""
[source]
path = 1
base_url = ["{SECRET}"]
raw = true
page_size = "{SECRET}"

[report]
tz = 3
out = {{ a = "{SECRET}" }}
min_volume = "{SECRET}"
frt_target_s = "{SECRET}"
csat_score_field = 5
formats = "{SECRET}"

[smtp]
host = 25
port = "{SECRET}"
security = 1
user = 2
from = 3

[[groups]]
name = 4
to = "{SECRET}"
queues = "{SECRET}"

[alerts]
operator = ["{SECRET}"]
"""


def test_a_config_with_every_field_wrong_names_each_key_and_no_value(tmp_path):
    with pytest.raises(ParameterError) as info:
        _read(tmp_path, EVERY_FIELD_WRONG)
    message = str(info.value)
    assert SECRET not in message and "\n" not in message
    keys = ["path", "base_url", "raw", "page_size", "tz", "out", "min_volume", "frt_target_s",
            "csat_score_field", "formats", "host", "port", "security", "user", "from", "name",
            "to", "queues", "operator"]  # fmt: skip
    for key in keys:
        assert f"] {key} must be" in message or f": {key} must be" in message, key
    assert message.count(";") == len(keys) - 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[report]\nmin_volume = 0", "min_volume must be a whole number from 1"),
        ("[report]\nmin_volume = 99999999999999999999", "min_volume must be"),
        ("[report]\nfrt_target_s = -1", "frt_target_s must be a number of seconds above 0"),
        ("[report]\nfrt_target_s = nan", "frt_target_s must be"),
        ("[report]\nfrt_target_s = inf", "frt_target_s must be"),
        ("[report]\ncsat_score_field = 'room..x'", "csat_score_field must be a dotted path"),
        ("[report]\ncsat_score_field = 'room.csat score'", "csat_score_field must be a dotted"),
        ("[report]\ncsat_score_field = 'handledTime.x'", "goes through 'handledTime'"),
        ("[report]\ncsat_score_field = 'startedDate'", "names a field cxreports already reads"),
        ("[report]\nformats = []", "formats must be a list of one or more of 'html', 'pdf'"),
        ("[report]\nformats = ['html', 'docx']", "formats must be a list of one or more"),
        ("[report]\ntz = 'Mars/Olympus'", "tz must be an IANA time zone"),
        ("[source]\npage_size = 0", "page_size must be a whole number from 1 to 10,000"),
        ("[source]\nbase_url = 'ftp://x'", "base_url must be an http"),
        ("[source]\nbase_url = 'http://[::1'", r"base_url must be .*: it is not a valid URL"),
        ("[source]\nbase_url = 'http://h:8765/v1 x'", r"base_url must be .*: it holds a space"),
        ("[source]\nbase_url = 'https://'", r"base_url must be .*: it names no host"),
        ("[report]\nout = ''", "out must be a path"),
        ('[report]\nout = "a\\u0000b"', "out must be a path"),
        ('[source]\nraw = "a\\nb"', "raw must be a path"),
        ("[smtp]\nsecurity = 'tls'", "security must be one of starttls, ssl, none"),
        ("[smtp]\nhost = 'smtp example.com'", "host must be a server name"),
        ("[smtp]\nfrom = 'reports'", "from must be an email address"),
        ("[alerts]\noperator = 'ops@'", "operator must be an email address"),
        (GROUP.format(name="a").replace("'x@example.com'", "'x@example.com', 'not one'"),
         r"#1 \(a\): to, address 2 must be an email address"),
        (GROUP.format(name="a") + "queues = ['']", "queues must be a list of names"),
        (GROUP.format(name="a").replace("to = ['x@example.com']", "to = []"),
         "to must be a non-empty list of addresses"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_when_the_config_is_read(tmp_path, text, message):
    with pytest.raises(ParameterError, match=message):
        _read(tmp_path, text)


def test_a_wrong_value_is_never_repeated(tmp_path):
    for text in (
        f"[smtp]\nport = '{SECRET}'",
        f"[smtp]\nfrom = '{SECRET}'",
        f"[report]\ntz = '{SECRET}'",
        f"[report]\ncsat_score_field = '{SECRET}!'",
        f"[source]\nbase_url = '{SECRET}'",
        GROUP.format(name=SECRET + "/x"),
        GROUP.format(name="a").replace("x@example.com", SECRET),
    ):
        with pytest.raises(ParameterError) as info:
            _read(tmp_path, text)
        assert SECRET not in str(info.value), text


def test_check_finds_what_is_missing_and_what_flags_broke(tmp_path):
    with pytest.raises(ParameterError) as info:
        Config(origin="c.toml").check()
    message = str(info.value)
    assert message.startswith("c.toml: 3 problems: [smtp] needs host and from")
    assert "no [[groups]]" in message and "[source] needs path or base_url" in message

    config = _read(tmp_path, EXAMPLE).with_overrides(to=["a@example.com", "nobody"], tz="")
    with pytest.raises(ParameterError, match=r"tz must be .*; --to, address 2"):
        config.check()
    assert _read(tmp_path, EXAMPLE).check().groups[0].name == "managers"


@pytest.mark.parametrize("kind", ["folder", "missing", "binary", "fifo", "huge"])
def test_a_config_path_that_is_not_a_config_file_is_one_error(tmp_path, kind):
    path = tmp_path / "c.toml"
    if kind == "folder":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00garbage")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge":
        path.write_text("# padding\n" * 200_000)
    expected = {
        "folder": "not a file",
        "missing": "no such config file",
        "binary": "not UTF-8 text",
        "fifo": "not a file",
        "huge": "too large to be a config file",
    }[kind]
    with pytest.raises(ParameterError, match=expected) as info:
        read_config(path)
    assert str(info.value).startswith(str(path))


EXAMPLE_NOTEBOOK = NOTEBOOKS / "channel_review.ipynb"
REPORT = '[[reports]]\nnotebook = "{notebook}"\n'


def test_the_example_config_shows_custom_reports():
    assert "# [[reports]]" in EXAMPLE and 'notebook = "reports/team_review.ipynb"' in EXAMPLE


def test_custom_reports_read_with_their_name_and_title(tmp_path):
    text = (
        REPORT.format(notebook=EXAMPLE_NOTEBOOK)
        + REPORT.format(notebook=EXAMPLE_NOTEBOOK)
        + 'name = "weekly-channels"\ntitle = "Channels, weekly"\n'
    )
    config = _read(tmp_path, text)
    assert config.reports == (
        Report("channel-review", EXAMPLE_NOTEBOOK, "Channel review"),
        Report("weekly-channels", EXAMPLE_NOTEBOOK, "Channels, weekly"),
    )


def _untagged(tmp_path) -> Path:
    nb = nbformat.read(EXAMPLE_NOTEBOOK, as_version=4)
    nb.cells[0].metadata["tags"] = []
    nbformat.write(nb, tmp_path / "untagged.ipynb")
    return tmp_path / "untagged.ipynb"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (REPORT.format(notebook="UNTAGGED"), r"#1: the notebook has no code cell tagged 'param"),
        (REPORT.format(notebook="MISSING"), r"#1: the notebook is not a file"),
        (REPORT.format(notebook="README"), r"#1: the notebook must be an .ipynb file"),
        (REPORT.format(notebook="EXAMPLE") + 'name = "csat-sla"',
         r"#1: the name belongs to a built-in report"),
        (REPORT.format(notebook="EXAMPLE") + 'name = "../x"', r"#1: the name must be 1 to 64"),
        (REPORT.format(notebook="EXAMPLE") * 2,
         r"#2 \(channel-review\): the name is taken by \[\[reports\]\] #1"),
        (REPORT.format(notebook="EXAMPLE") + "kernel = 'x'", r"#1: unknown key 'kernel'"),
        (REPORT.format(notebook="EXAMPLE") + "title = ''", r"#1: title must be text on one line"),
        ("[[reports]]\nname = 'x'", r"#1: notebook must be the path of an .ipynb file"),
    ],
)  # fmt: skip
def test_a_custom_report_that_cannot_render_stops_the_config(tmp_path, text, message):
    paths = {
        "UNTAGGED": _untagged(tmp_path),
        "MISSING": tmp_path / "missing.ipynb",
        "README": Path("README.md").absolute(),
        "EXAMPLE": EXAMPLE_NOTEBOOK,
    }
    for key, path in paths.items():
        text = text.replace(f'"{key}"', f'"{path}"')
    with pytest.raises(ParameterError, match=r"\[\[reports\]\] " + message):
        _read(tmp_path, text)


@pytest.mark.parametrize("text", ["reports = 'x.ipynb'", "[reports]\nnotebook = 'x.ipynb'"])
def test_reports_not_written_as_tables_are_an_unknown_section(tmp_path, text):
    with pytest.raises(
        ParameterError, match=r"unknown section \[reports\]; expected .*\[\[reports"
    ):
        _read(tmp_path, text)


def test_custom_report_problems_come_with_the_others_and_repeat_no_value(tmp_path):
    text = (
        f"[report]\nmin_volume = 0\n\n[[reports]]\nnotebook = '{tmp_path}/{SECRET}.ipynb'\n"
        f'title = "{SECRET}\\n"\n\n[[reports]]\nnotebook = "{EXAMPLE_NOTEBOOK}"\n'
        f"name = '{SECRET}!'\nkernel = '{SECRET}'\n"
    )
    with pytest.raises(ParameterError) as info:
        _read(tmp_path, text)
    message = str(info.value)
    assert SECRET not in message
    assert "[[reports]] #1: title must be text on one line" in message
    assert "[[reports]] #2: unknown key" in message
    # past the types: the values, each problem once, none repeated
    text = (
        f"[report]\nmin_volume = 0\n\n[[reports]]\nnotebook = '{tmp_path}/{SECRET}.ipynb'\n\n"
        f"[[reports]]\nnotebook = '{EXAMPLE_NOTEBOOK}'\nname = '{SECRET}!'\n"
    )
    with pytest.raises(ParameterError) as info:
        _read(tmp_path, text)
    message = str(info.value)
    assert SECRET not in message and message.count(";") == 2
    assert "[report] min_volume must be" in message
    assert "[[reports]] #1: the notebook is not a file" in message
    assert "[[reports]] #2: the name must be" in message


def test_a_report_notebook_that_went_missing_is_found_by_check(tmp_path):
    notebook = tmp_path / "team.ipynb"
    shutil.copy(EXAMPLE_NOTEBOOK, notebook)
    config = _read(tmp_path, REPORT.format(notebook=notebook))
    notebook.unlink()
    with pytest.raises(ParameterError, match=r"\[\[reports\]\] #1: the notebook is not a file"):
        config.check()
