"""Start-up cost of cxreports' own processes: the command line and the report kernels."""

from __future__ import annotations

import sys


def skip_slow_iri_checker() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` in this process.

    nbformat (so papermill and nbconvert) imports jsonschema, which imports every format checker
    it finds installed; ``rfc3987_syntax`` (installed with JupyterLab's dependencies) builds
    some 35 parsers when imported, about 1.7 s on every start of the command line and of every
    report kernel (python-jsonschema/jsonschema#1428). Without it jsonschema only lacks its
    ``iri`` format check, which no schema cxreports validates uses. Called first thing by the
    command line and the report kernels; a library user's own process is left as it is.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
