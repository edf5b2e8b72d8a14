"""Chart text measured with a small copy of the chart font: the same charts, drawn sooner.

vl-convert measures every label of a chart to lay it out, and for each letter it measures it
opens and maps the font file again (its font database keeps files, not their contents), the
more of it the larger the file. A copy of DejaVu Sans (750 KB) and of its bold that holds only
the Latin letters, digits, punctuation and signs (about 90 KB), under a name of its own, has
the same outlines, advances and kerning for those letters, so it measures and draws them
exactly as the whole font does, and a report's charts are drawn with a fifth less CPU.

A chart whose every character is in the copy is drawn with it (:func:`swapped`), and its SVG
then names DejaVu Sans again (:func:`restored`): the same SVG, byte for byte, and the same
PNG, as drawn with the whole font. A chart with any other character (Greek, Cyrillic, CJK,
emoji) is drawn with the whole font, as before. The copies are made once a machine (fontTools,
about a second) into the user's cache folder, and a process uses them only after a test chart
drawn both ways came out the same (:func:`prepare`); anything amiss (no DejaVu Sans, a cache
that cannot be written, a damaged copy, another vl-convert) leaves every chart drawn with the
whole font.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

#: The copies' family name: no font of a machine has it.
FAMILY = "CX Chart Sans"
#: The font the charts name (``charts.FONT`` starts with it) and the copies stand in for.
SOURCE_FAMILY = "DejaVu Sans"
#: The faces copied: chart text is regular or bold.
FACES = {"DejaVuSans.ttf": "Book", "DejaVuSans-Bold.ttf": "Bold"}
#: Where a machine keeps its fonts (as vl-convert's font database looks for them).
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
#: What the copies hold: Basic Latin, Latin-1, Latin Extended-A, -B and Additional (the names
#: of Western, Central and Eastern Europe, Turkey, Vietnam), general punctuation (the
#: ellipsis Vega ends a cut label with), currency signs, the trade mark, arrows, the minus
#: sign (d3's negative numbers), the signs of comparison, the shapes and ticks the reports
#: mark figures with; the degree and micro signs are in Latin-1.
RANGES = ((0x20, 0x7E), (0xA0, 0x24F), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x20A0, 0x20CF),
          (0x2122, 0x2122), (0x2190, 0x2193), (0x2212, 0x2212), (0x2248, 0x2248), (0x2260, 0x2265),
          (0x25A0, 0x25A1), (0x25B2, 0x25B2), (0x25BC, 0x25BC), (0x2713, 0x2713),
          (0x2717, 0x2717))  # fmt: skip
#: Changes whenever the copies are made differently: their cache folder's name includes it.
VERSION = 1

#: A font weight or style a spec sets (``fontWeight``, ``labelFontStyle``, ...), and the
#: values the copies draw as the whole font does: DejaVu Sans also has a light and an oblique
#: face, which a copy would stand in for with its regular one.
_FACE_SETTING = re.compile(r'"[A-Za-z]*[Ff]ont(?:Weight|Style)"\s*:\s*([^,}\]]+)')
_FACES_CHOSEN = frozenset({'"normal"', '"bold"', "400", "700", "null"})
#: The file that lists the characters both copies hold.
_COVERED = "covered.txt"
_ATTRIBUTE = f'font-family="&quot;{FAMILY}&quot;'
_SOURCE_ATTRIBUTE = f'font-family="&quot;{SOURCE_FAMILY}&quot;'

#: Text Vega writes itself: a negative number, a micro prefix, a cut label's ellipsis, quotes.
_SIGNS = "\u22121.5 \u00b5s \u2026 \u20180\u2019 \u201c%\u201d \u20ac"

_lock = threading.Lock()
_tried = False
#: The characters the copies hold, once this process may use them; None until then (or never).
_covered: frozenset[str] | None = None


def prepare() -> bool:
    """Make (or find) the copies, register them with vl-convert, and check them: a test chart
    drawn with them and with the whole font must give the same SVG. Once a process;
    safe from any thread (a kernel calls it in the background as it starts). Whether charts
    will now be drawn with the copies."""
    global _tried, _covered
    with _lock:
        if _tried:
            return _covered is not None
        _tried = True
        try:
            folder = _copies()
            if folder is None:
                return False
            import vl_convert

            vl_convert.register_font_directory(str(folder))
            covered = frozenset((folder / _COVERED).read_text(encoding="utf-8"))
            if not _same_drawing(covered):
                return False
            _covered = covered
        except Exception:  # any failure: the whole font, as before
            return False
        return True


def swapped(spec: dict[str, Any]) -> dict[str, Any] | None:
    """``spec`` drawn with the copies (a shallow copy whose ``config.font`` names them first),
    or None to draw ``spec`` as it is: the copies are not ready, the chart names another
    font, some character of it is not in the copies, or it sets a weight or style other than
    regular and bold."""
    return _swap(spec, _covered)


def _swap(spec: dict[str, Any], covered: frozenset[str] | None) -> dict[str, Any] | None:
    if covered is None:
        return None
    config = spec.get("config")
    font = config.get("font") if isinstance(config, dict) else None
    if not isinstance(font, str) or not font.startswith(f'"{SOURCE_FAMILY}"'):
        return None
    text = json.dumps(spec, ensure_ascii=False)
    if not covered.issuperset(text):
        return None
    if any(m.group(1) not in _FACES_CHOSEN for m in _FACE_SETTING.finditer(text)):
        return None  # another weight or an italic: the copies have only regular and bold
    return {**spec, "config": {**config, "font": f'"{FAMILY}"' + font[len(SOURCE_FAMILY) + 2 :]}}


def restored(svg: str) -> str:
    """An SVG drawn from a :func:`swapped` spec, naming DejaVu Sans again where it names the
    copies (in ``font-family`` attributes only: chart text is never touched)."""
    return svg.replace(_ATTRIBUTE, _SOURCE_ATTRIBUTE)


def _sources() -> dict[str, Path] | None:
    """The files of DejaVu Sans' faces on this machine, or None if any is missing."""
    found: dict[str, Path] = {}
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for name in FACES.keys() - found.keys():
            if matches := sorted(root.rglob(name)):
                found[name] = matches[0]
    return found if len(found) == len(FACES) else None


def _copies() -> Path | None:
    """The folder of this machine's copies, made if need be; None if they cannot be."""
    sources = _sources()
    if sources is None:
        return None
    digest = hashlib.sha256(f"{VERSION} {RANGES}".encode())
    for name in FACES:
        digest.update(sources[name].read_bytes())
    # a relative XDG_CACHE_HOME is to be ignored (the XDG spec): kernels run in many folders
    cache = Path(os.environ.get("XDG_CACHE_HOME", ""))
    if not cache.is_absolute():
        cache = Path.home() / ".cache"
    folder = cache / "cxreports" / "chart-font" / digest.hexdigest()[:16]
    if (folder / _COVERED).is_file():  # written last
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    for left in folder.parent.glob(".making-*"):  # of a process killed while making them
        with contextlib.suppress(OSError):
            if time.time() - left.stat().st_mtime > 600:
                shutil.rmtree(left, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=".making-", dir=folder.parent))
    try:
        for name, style in FACES.items():
            _subset(sources[name], staging / _copy_name(name), style)
        (staging / _COVERED).write_text("".join(sorted(_coverage(staging))), encoding="utf-8")
        try:
            staging.rename(folder)  # whole or not at all; another process may have won
        except OSError:
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _copy_name(name: str) -> str:
    return name.replace("DejaVuSans", "CXChartSans")


def _subset(source: Path, target: Path, style: str) -> None:
    """A copy of ``source`` with only :data:`RANGES`, every layout feature (kerning) and
    outline kept, named :data:`FAMILY`."""
    import logging

    from fontTools import subset
    from fontTools.ttLib import TTFont

    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "FFTM NOT subset"
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.legacy_kern = True
    options.hinting = False  # vl-convert draws outlines unhinted
    font = TTFont(source)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[c for low, high in RANGES for c in range(low, high + 1)])
    subsetter.subset(font)
    names = {1: FAMILY, 4: f"{FAMILY} {style}", 6: f"{FAMILY.replace(' ', '')}-{style}", 16: FAMILY}
    for record in font["name"].names:
        if record.nameID in names:
            record.string = names[record.nameID]
    font.save(target)


def _coverage(folder: Path) -> frozenset[str]:
    """The characters every copy holds."""
    from fontTools.ttLib import TTFont

    sets = [set(TTFont(folder / _copy_name(name))["cmap"].getBestCmap()) for name in FACES]
    return frozenset(chr(c) for c in set.intersection(*sets))


def _same_drawing(covered: frozenset[str]) -> bool:
    """Whether a chart of the characters the copies hold, in regular and bold, comes out the
    same drawn with them as with the whole font: the same SVG is the same measures, so the
    copies are the font vl-convert finds. (That their outlines draw the same PNG the tests
    check: fontTools copies outlines as they are.)"""
    import vl_convert

    from cxreports.charts import FONT

    # ASCII and every 16th other character: enough to tell another font's measures apart
    chars = sorted(c for c in covered if c.isprintable() and not c.isspace())
    text = "".join(c for i, c in enumerate(chars) if c.isascii() or i % 16 == 0)
    lines = [text[i : i + 40] for i in range(0, len(text), 40)]
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": {"text": lines[0], "fontWeight": "bold"},
        "data": {"values": [{"label": line, "n": i + 1} for i, line in enumerate(lines)]},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "label", "type": "nominal", "axis": {"labelLimit": 0}},
            "x": {"field": "n", "type": "quantitative", "title": _SIGNS},
        },
        "config": {"font": FONT},
    }
    other = _swap(spec, covered)
    if other is None:
        return False
    return restored(vl_convert.vegalite_to_svg(other)) == vl_convert.vegalite_to_svg(spec)
