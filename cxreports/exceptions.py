"""The errors cxreports raises; the CLI maps each to a message and an exit code."""

from __future__ import annotations


class CxReportsError(Exception):
    """Base class of every expected cxreports failure."""

    exit_code: int = 1

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: an expected failure reads as one line
        return [f"{type(self).__name__}: {self}"]


class SourceNotFoundError(CxReportsError):
    """A source path, directory or glob matched no readable file."""

    exit_code = 3


class InvalidRecordError(CxReportsError):
    """A record (or a whole file) could not be loaded; raised under ``strict=True``."""

    exit_code = 4


class ParameterError(CxReportsError):
    """A report parameter (week, time zone, threshold...) is not valid."""

    exit_code = 2


class EmptyDataError(CxReportsError):
    """The sources hold no loadable interaction at all."""

    exit_code = 5


class FetchError(CxReportsError):
    """The CX API could not be read: bad token, refused request, or retries used up."""

    exit_code = 7


class ReportError(CxReportsError):
    """A report notebook failed to run, timed out, or could not be converted to HTML or PDF."""

    exit_code = 6


class MailError(CxReportsError):
    """A report email could not be built, written or sent."""

    exit_code = 8
    #: The recipients that did get the message, when a server refused only some of them.
    delivered: tuple[str, ...] = ()


class JobError(CxReportsError):
    """The weekly job stopped: another run holds its lock, or a step failed."""

    exit_code = 9


class StoreBusyError(CxReportsError):
    """Another load is updating the same store; try again when it has finished."""

    exit_code = 10


class OutputError(CxReportsError):
    """An output could not be written: folder not writable, a file in the way, or disk full."""

    exit_code = 11


class StoreDamagedError(CxReportsError):
    """A store's Delta logs or data files are missing, unreadable or tampered with."""

    exit_code = 12


class StoreFormatError(CxReportsError):
    """The store is of an earlier cxreports format; ``cxreports store migrate`` converts it."""

    exit_code = 12
