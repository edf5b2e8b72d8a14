"""Metric frames -> altair charts; no I/O."""

from __future__ import annotations

from typing import Literal

import altair as alt

from cxreports.exceptions import ParameterError

RenderMode = Literal["static", "interactive"]


def use_renderer(render_mode: RenderMode) -> None:
    """Make altair charts display as static SVG or as interactive Vega-Lite.

    Static SVG (drawn by vl-convert, no JavaScript) is what the HTML and PDF reports need;
    interactive charts are for reading a notebook in Jupyter. Either way the row limit is
    lifted, since report frames are aggregates that were sized on purpose.

    Parameters
    ----------
    render_mode
        ``"static"`` for SVG output, ``"interactive"`` for altair's default renderer.

    Examples
    --------
    >>> use_renderer("static")
    >>> alt.renderers.active
    'svg'
    >>> use_renderer("interactive")
    """
    if render_mode not in ("static", "interactive"):
        raise ParameterError(f"render_mode must be 'static' or 'interactive', got {render_mode!r}")
    alt.renderers.enable("svg" if render_mode == "static" else "default")
    alt.data_transformers.disable_max_rows()
