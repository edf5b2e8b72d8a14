"""The files of a week's email digest (``<week>/email/``): written once its reports have
rendered, read to send it. Apart from :mod:`cxreports.digest`, which builds the digest (and
imports the chart libraries, most of a second): a process that only moves digests between
folders or sends them does not need those."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from cxreports.exceptions import ParameterError
from cxreports.iorw import write_atomic
from cxreports.mail import EmailBody

#: Folder of a rendered week that holds the digest.
FOLDER = "email"
# the name rule of cxreports.report: a name read back from digest.json becomes a file name
_REPORT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def write(
    body: EmailBody,
    week_dir: str | Path,
    reports: Sequence[str] | None = None,
    formats: Sequence[str] | None = None,
) -> Path:
    """Keep ``body`` in ``week_dir/email/`` (subject, HTML, text, PNGs); returns the folder.

    ``reports`` names the reports rendered with it and ``formats`` the files each has (of
    ``html``, ``pdf``), the ones sent along (see :func:`report_names`, :func:`report_formats`).
    """
    folder = Path(week_dir) / FOLDER
    for name, png in body.images.items():
        write_atomic(folder / f"{name}.png", png)
    write_atomic(folder / "body.html", body.html.encode())
    write_atomic(folder / "body.txt", body.text.encode())
    meta: dict[str, object] = {"subject": body.subject, "images": sorted(body.images)}
    if reports is not None:
        meta["reports"] = list(reports)
    if formats is not None:
        meta["formats"] = list(formats)
    write_atomic(folder / "digest.json", json.dumps(meta, indent=2).encode())
    return folder


def read(week_dir: str | Path) -> EmailBody:
    """The body kept by :func:`write`; a clear error when the week was not fully rendered."""
    folder = Path(week_dir) / FOLDER
    meta_path = folder / "digest.json"
    if not meta_path.is_file():
        raise ParameterError(
            f"{week_dir}: no email digest found ({meta_path} is missing); render the week "
            "with `cxreports report all ...` first"
        )
    meta = json.loads(meta_path.read_text())
    return EmailBody(
        subject=meta["subject"],
        html=(folder / "body.html").read_text(),
        text=(folder / "body.txt").read_text(),
        images={name: (folder / f"{name}.png").read_bytes() for name in meta["images"]},
    )


def report_formats(week_dir: str | Path) -> list[str]:
    """The files each report of the week has, ``pdf`` and ``html`` unless its digest names
    fewer (a week rendered with ``formats = ["pdf"]``)."""
    try:
        formats = json.loads((Path(week_dir) / FOLDER / "digest.json").read_text()).get("formats")
    except (OSError, ValueError, AttributeError):
        formats = None
    if not isinstance(formats, list) or not formats or not set(formats) <= {"pdf", "html"}:
        return ["pdf", "html"]
    return [f for f in ("pdf", "html") if f in formats]


def report_names(week_dir: str | Path) -> list[str] | None:
    """The reports rendered with the week's digest (None if it does not say: all built-in)."""
    meta_path = Path(week_dir) / FOLDER / "digest.json"
    try:
        names = json.loads(meta_path.read_text()).get("reports")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(names, list) or not all(
        isinstance(n, str) and _REPORT_NAME.fullmatch(n) for n in names
    ):
        return None
    return names
