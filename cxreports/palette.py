"""The one colour palette of every report, chart and email: colour-blind safe, with contrast.

Built on the Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008), whose eight colours
stay distinct for the common colour-vision deficiencies. Good and bad are blue and vermillion,
never green and red, and a sign, arrow or word always says the same thing as the colour.

Text colours reach a contrast of at least 4.5:1 on white and on :data:`SURFACE` (WCAG 1.4.3);
colours of chart marks at least 3:1 on white (WCAG 1.4.11). :func:`contrast` checks a pair.
"""

from __future__ import annotations

#: The Okabe-Ito colours, by name.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Page background and the light surface of cards and table headers.
BACKGROUND = "#FFFFFF"
SURFACE = "#F6F8FA"

#: Text: body, secondary (labels, notes) and rules between rows (a rule is not text).
TEXT = "#1F2328"
MUTED = "#59636E"
RULE = "#D1D9E0"

#: A change in the good direction and in the bad one, as text (4.5:1) and as chart marks (3:1).
GOOD_TEXT = "#005A8C"
BAD_TEXT = "#A94800"
GOOD = OKABE_ITO["blue"]
BAD = OKABE_ITO["vermillion"]

#: The main series colour of charts, and the colour of marks that are shown but not ranked.
PRIMARY = OKABE_ITO["blue"]
NEUTRAL = "#8C959F"

#: Categorical series, in order (each at least 3:1 on white, so a thin line stays visible).
CATEGORICAL = [
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["black"],
    "#8A6D00",  # a darkened Okabe-Ito yellow, 4.9:1 on white
]

#: CSAT ratings 1 to 5: a diverging vermillion-to-blue scale, grey in the middle, each 3:1.
RATINGS = ["#A94800", "#D55E00", "#767676", "#0072B2", "#005A8C"]

#: The sequential scheme of heatmaps (a Vega scheme name; single hue, safe for every reader).
SEQUENTIAL_SCHEME = "blues"


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """Relative luminance of a ``#RRGGBB`` colour, as WCAG defines it.

    Examples
    --------
    >>> luminance("#FFFFFF"), luminance("#000000")
    (1.0, 0.0)
    """
    text = colour.lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    r, g, b = (_channel(int(text[i : i + 2], 16)) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str = BACKGROUND) -> float:
    """WCAG contrast ratio of two colours, from 1 (none) to 21 (black on white).

    Examples
    --------
    >>> round(contrast("#000000", "#FFFFFF"), 1)
    21.0
    >>> contrast(GOOD_TEXT) >= 4.5 and contrast(BAD) >= 3
    True
    """
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


#: Text on a dark fill (heatmap cells of the two darkest steps).
ON_DARK = "#FFFFFF"

#: Heatmap steps, light to dark (ColorBrewer Blues, single hue). A cell's count is printed in it,
#: in :data:`TEXT` or :data:`ON_DARK`, whichever contrasts more, so no reader needs the colour.
SEQUENTIAL = ["#F7FBFF", "#C6DBEF", "#6BAED6", "#2171B5", "#08306B"]

#: Light backgrounds of table cells whose value is worse / better than the team's. Body text
#: keeps 4.5:1 on both; the value itself and a sign say the same as the tint.
BAD_TINT = "#FBE5D6"
GOOD_TINT = "#DDEBF7"

#: Notes and caveats: a light amber panel with an orange rule (the rule is decoration).
NOTE_TINT = "#FDF5E1"
NOTE_RULE = OKABE_ITO["orange"]

#: Opacity of a 95% interval band drawn in :data:`PRIMARY`; its edges are drawn as lines.
BAND_OPACITY = 0.18


def text_on(fill: str) -> str:
    """The text colour, :data:`TEXT` or :data:`ON_DARK`, that contrasts more with ``fill``.

    Examples
    --------
    >>> text_on("#FFFFFF") == TEXT, text_on("#08306B") == ON_DARK
    (True, True)
    """
    return max((TEXT, ON_DARK), key=lambda colour: contrast(colour, fill))
