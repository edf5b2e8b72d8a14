"""cxreports: weekly agent-performance and CSAT/SLA reports from contact-center logs."""

from __future__ import annotations

from cxreports.exceptions import (
    CxReportsError,
    EmptyDataError,
    FetchError,
    InvalidRecordError,
    MailError,
    OutputError,
    ParameterError,
    ReportError,
    SourceNotFoundError,
    StoreBusyError,
    StoreDamagedError,
    StoreFormatError,
)
from cxreports.load import CxLogs, load
from cxreports.metrics import WeeklyMetrics, weekly
from cxreports.period import Week

__version__ = "0.1.0"

__all__ = [
    "CxLogs",
    "CxReportsError",
    "EmptyDataError",
    "FetchError",
    "InvalidRecordError",
    "MailError",
    "OutputError",
    "ParameterError",
    "ReportError",
    "SourceNotFoundError",
    "StoreBusyError",
    "StoreDamagedError",
    "StoreFormatError",
    "Week",
    "WeeklyMetrics",
    "__version__",
    "load",
    "weekly",
]
