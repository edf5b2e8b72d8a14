"""``python -m cxreports``: the command line, as the ``cxreports`` command runs it."""

from cxreports.cli import main

raise SystemExit(main())
