"""Metric frames -> altair charts; no I/O."""

from __future__ import annotations

from typing import Literal

import altair as alt

from cxreports.exceptions import ParameterError

RenderMode = Literal["static", "interactive"]

#: Font of all chart text. vl-convert lays out static charts with the first of these fonts it
#: finds and WeasyPrint draws the SVG with its first one too, so both must find the same font
#: (DejaVu Sans, installed by dev.sh) or axis labels collide in the PDF. Browsers without it
#: fall back to narrower fonts, which still fit the space measured.
FONT = '"DejaVu Sans", "Helvetica Neue", Arial, sans-serif'


@alt.theme.register("cxreports", enable=False)
def theme() -> alt.theme.ThemeConfig:
    """The altair theme of every cxreports chart."""
    return alt.theme.ThemeConfig(config={"font": FONT})


def use_renderer(render_mode: RenderMode) -> None:
    """Make altair charts display as static SVG or as interactive Vega-Lite.

    Static SVG (drawn by vl-convert, no JavaScript) is what the HTML and PDF reports need;
    interactive charts are for reading a notebook in Jupyter. Either way the cxreports
    :func:`theme` is enabled and the row limit is lifted, since report frames are aggregates
    that were sized on purpose.

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
    alt.theme.enable("cxreports")
    alt.data_transformers.disable_max_rows()
