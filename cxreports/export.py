"""Metric frames as text for the terminal and for machines (CSV, JSON)."""

from __future__ import annotations

from typing import Literal

import polars as pl

TextFormat = Literal["table", "csv", "json"]

#: Control characters (a terminal obeys ESC and BEL; tab and line breaks are kept): shown as
#: U+FFFD in a table and in CSV. JSON escapes them itself.
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
#: How a spreadsheet recognises a formula: a cell beginning with one of these (quoting the
#: cell does not stop it). CSV text cells that do are written with a leading apostrophe.
_FORMULA = r"^[=+\-@\t\r]"


def frame_to_text(frame: pl.DataFrame, fmt: TextFormat = "table") -> str:
    """``frame`` as an aligned table (every row and column), CSV, or a JSON array of objects.

    Examples
    --------
    >>> print(frame_to_text(pl.DataFrame({"agent": ["A"], "aht_s": [300.0]}), "csv"), end="")
    agent,aht_s
    A,300.0
    """
    if fmt == "json":
        return frame.write_json() + "\n"
    text = [c for c, t in frame.schema.items() if t == pl.String]
    frame = frame.with_columns(pl.col(text).str.replace_all(_CONTROL, "\ufffd"))
    if fmt == "csv":
        # names come from the data: "=HYPERLINK(...)" must reach a spreadsheet as text
        formula = pl.col(text).str.contains(_FORMULA)
        return frame.with_columns(
            pl.when(formula).then("'" + pl.col(text)).otherwise(pl.col(text)).name.keep()
        ).write_csv()
    if frame.height == 1 and frame.width > 8:
        # one wide row (the week's summary) reads better as name/value lines
        frame = pl.DataFrame(
            {
                "metric": frame.columns,
                "value": [_cell(v) for v in frame.row(0)],
            }
        )
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=10_000,
        float_precision=3,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        fmt_str_lengths=60,
    ):
        return str(frame) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)
