from __future__ import annotations

import pytest

from cxreports import ParameterError
from cxreports.config import EXAMPLE, Group, read_config


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
    assert config.groups == (Group("recipients", ("x@example.com",)),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[smtp]\npassword = 'x'", "secrets do not belong in the config file"),
        ("[source]\napi_token = 'x'", "secrets do not belong"),
        ("[report]\ntimezone = 'UTC'", "unknown key 'timezone' in \\[report\\]"),
        ("[reports]\ntz = 'UTC'", "unknown section \\[reports\\]"),
        ("[smtp]\nport = '25'", "port must be a whole number, got '25'"),
        ("[[groups]]\nname = 'a b'\nto = ['x@example.com']", "name must be a word"),
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
