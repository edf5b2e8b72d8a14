"""Send a rendered week: its email digest as the body, its reports as attachments."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

from cxreports import digestfiles, mail
from cxreports.exceptions import ParameterError
from cxreports.report import REPORTS


def attachments(week_dir: str | Path, reports: Sequence[str] | None = None) -> list[Path]:
    """The PDF and HTML of every report of ``week_dir`` (those of the formats it was rendered
    in); an error if any is missing or failed.

    The reports are those rendered with the week's digest (custom ones included; both
    built-in reports for a digest that does not name them), unless ``reports`` names them.
    A week where a report failed has ``<report>.failed.ipynb`` and no HTML/PDF for it, so a
    half-made week is refused here rather than mailed.
    """
    folder = Path(week_dir)
    if reports is None:
        reports = digestfiles.report_names(folder) or list(REPORTS)
    found, problems = [], []
    suffixes = [f".{f}" for f in digestfiles.report_formats(folder)]
    for name in reports:
        if (folder / f"{name}.failed.ipynb").exists():
            problems.append(f"{name} failed to render (see {name}.failed.ipynb)")
        for suffix in suffixes:
            path = folder / f"{name}{suffix}"
            if path.is_file():
                found.append(path)
            else:
                problems.append(f"{path.name} is missing")
    if problems:
        raise ParameterError(
            f"{folder}: not a complete report week, nothing sent: " + "; ".join(problems)
        )
    return found


def compose(
    week_dir: str | Path,
    *,
    sender: str,
    to: Sequence[str],
    subject: str | None = None,
    reports: Sequence[str] | None = None,
) -> EmailMessage:
    """The message for one rendered week, checked by :func:`mail.build_message`."""
    body = digestfiles.read(week_dir)
    if subject:
        body = mail.EmailBody(subject=subject, html=body.html, text=body.text, images=body.images)
    return mail.build_message(
        body, sender=sender, to=list(to), attachments=attachments(week_dir, reports)
    )


def send_week(
    week_dir: str | Path,
    settings: mail.SmtpSettings,
    to: Sequence[str],
    *,
    subject: str | None = None,
    dry_run: bool = False,
) -> Path | str:
    """Send (or with ``dry_run`` write to ``<week>/email/message.eml``) a rendered week.

    Returns the ``.eml`` path for a dry run, else the Message-ID sent.
    """
    message = compose(week_dir, sender=settings.sender, to=to, subject=subject)
    if dry_run:
        return mail.write_eml(message, Path(week_dir) / digestfiles.FOLDER / "message.eml")
    mail.send(message, settings)
    return str(message["Message-ID"])
