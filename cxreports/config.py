"""The weekly job's settings: a TOML file, read by an explicit call, overridable by flags.

Secrets are not settings: the API token and the SMTP password come from the environment
(``CXREPORTS_API_TOKEN``, ``CXREPORTS_SMTP_PASSWORD``) and a config file that holds a key
named like one is refused.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cxreports.exceptions import ParameterError
from cxreports.mail import SmtpSettings

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

[alerts]
operator = "ops@example.com"      # told when a run fails (optional)
"""


@dataclass(frozen=True)
class Group:
    """Recipients of one email and the scope their reports are filtered to."""

    name: str
    to: tuple[str, ...]
    queues: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()


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
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str | None = None
    sender: str | None = None
    groups: tuple[Group, ...] = ()
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

    def with_overrides(self, **values: Any) -> Config:
        """A copy with every non-None value replaced (command-line flags win over the file)."""
        changes = {k: v for k, v in values.items() if v is not None}
        if "to" in changes:
            changes["groups"] = (Group("recipients", tuple(changes.pop("to"))),)
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
        "formats": ("formats", list),
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
    """Read and check a config file; every problem names the file, the key and what to do."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ParameterError(
            f"{path}: no such config file (start from `cxreports config`)"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{path}: not valid TOML: {exc}") from exc
    values: dict[str, Any] = {"origin": str(path)}
    for section, content in data.items():
        if section == "groups":
            values["groups"] = tuple(_group(path, i, g) for i, g in enumerate(_list(path, content)))
            continue
        keys = _SECTIONS.get(section)
        if keys is None or not isinstance(content, dict):
            raise ParameterError(
                f"{path}: unknown section [{section}]; expected "
                + ", ".join(f"[{s}]" for s in (*_SECTIONS, "[groups]"))
            )
        for key, value in content.items():
            _refuse_secret(path, section, key)
            if key not in keys:
                raise ParameterError(
                    f"{path}: unknown key {key!r} in [{section}]; expected one of "
                    + ", ".join(keys)
                )
            name, kind = keys[key]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ParameterError(
                    f"{path}: [{section}] {key} must be {_kind(kind)}, got {value!r}"
                )
            values[name] = tuple(value) if isinstance(value, list) else value
    config = Config(**values)
    if config.source_path and config.base_url:
        raise ParameterError(f"{path}: [source] takes path or base_url, not both")
    return config


def _group(path: Path, index: int, raw: Any) -> Group:
    where = f"{path}: [[groups]] #{index + 1}"
    if not isinstance(raw, dict):
        raise ParameterError(f"{where} must be a table")
    unknown = set(raw) - {"name", "to", "queues", "channels"}
    for key in raw:
        _refuse_secret(path, "groups", key)
    if unknown:
        raise ParameterError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    name, to = raw.get("name"), raw.get("to")
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise ParameterError(f"{where}: name must be a word such as 'billing', got {name!r}")
    if not isinstance(to, list) or not to or not all(isinstance(a, str) for a in to):
        raise ParameterError(f"{where} ({name}): to must be a non-empty list of addresses")
    lists = {k: raw.get(k, []) for k in ("queues", "channels")}
    for key, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ParameterError(f"{where} ({name}): {key} must be a list of names")
    return Group(name, tuple(to), tuple(lists["queues"]), tuple(lists["channels"]))


def _list(path: Path, content: Any) -> list:
    if not isinstance(content, list):
        raise ParameterError(f"{path}: groups must be written as [[groups]] tables")
    return content


def _refuse_secret(path: Path, section: str, key: str) -> None:
    if any(word in key.lower() for word in _SECRET_WORDS):
        raise ParameterError(
            f"{path}: [{section}] {key}: secrets do not belong in the config file; set "
            "CXREPORTS_SMTP_PASSWORD or CXREPORTS_API_TOKEN in the environment instead"
        )


def _kind(kind: type | tuple[type, ...]) -> str:
    words = {str: "text", int: "a whole number", float: "a number", list: "a list"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(words[k] for k in kinds)
