"""cxreports: weekly agent-performance and CSAT/SLA reports from contact-center logs."""

from __future__ import annotations

from cxreports.exceptions import (
    CxReportsError,
    EmptyDataError,
    InvalidRecordError,
    ParameterError,
    SourceNotFoundError,
)
from cxreports.load import CxLogs, load

__version__ = "0.1.0"

__all__ = [
    "CxLogs",
    "CxReportsError",
    "EmptyDataError",
    "InvalidRecordError",
    "ParameterError",
    "SourceNotFoundError",
    "__version__",
    "load",
]
