"""The fonts the report's charts are measured with.

Chart text is written into the SVG as text (``svg.fonttype: none``), so the browser's
fonts draw it; matplotlib still needs a font to measure it. Its font cache is built once
and does not see fonts installed later (``make system-deps`` after a first run): then the
CJK fonts are added from the system's font list. With no CJK font at all the charts are
measured with DejaVu Sans and one line says so, instead of a warning per character.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CJK = ("Noto Sans CJK SC", "Noto Sans CJK JP")
FALLBACK = "DejaVu Sans"
log = logging.getLogger(__name__)


@functools.cache
def families() -> tuple[str, ...]:
    """The font families for ``font.family``: the CJK ones present, then the fallback."""
    from matplotlib import font_manager

    def present() -> set[str]:
        return {f.name for f in font_manager.fontManager.ttflist} & set(CJK)

    if not present():  # the cache may predate the fonts
        for path in font_manager.findSystemFonts():
            if Path(path).name.startswith(("NotoSansCJK", "NotoSerifCJK")):
                font_manager.fontManager.addfont(path)
    found = present()
    if not found:
        log.warning(
            "no CJK font found (Debian: fonts-noto-cjk, installed by `make system-deps`); "
            "chart labels stay text that the browser draws, their widths are estimated"
        )
    return (*[f for f in CJK if f in found], FALLBACK)


@contextmanager
def quiet_glyphs() -> Iterator[None]:
    """Without a CJK font, do not warn for each character missing from the fallback."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        yield
