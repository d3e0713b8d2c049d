"""Rebuild src/absflow/reports/fonts/wqy-microhei-gb2312.ttf (a build step, not run by absflow).

Usage (fontTools is needed only here, not by absflow):
    apt-get download fonts-wqy-microhei && dpkg-deb -x fonts-wqy-microhei_*.deb x
    python -m pip install fonttools
    python scripts/subset_cjk_font.py x/usr/share/fonts/truetype/wqy/wqy-microhei.ttc \
        src/absflow/reports/fonts/wqy-microhei-gb2312.ttf

Keeps face 0 (WenQuanYi Micro Hei) for ASCII, Latin-1, punctuation, full-width forms and
the GB 2312 hanzi, without hinting or layout tables (reportlab uses neither).
"""

from __future__ import annotations

import sys

from fontTools import subset  # type: ignore[import-not-found]
from fontTools.ttLib import TTCollection  # type: ignore[import-not-found]

RANGES = [
    (0x20, 0x7F), (0xA0, 0x180), (0x2000, 0x2070), (0x2100, 0x2200), (0x2460, 0x2474),
    (0x25A0, 0x2600), (0x3000, 0x3040), (0xFF00, 0xFFF0),
]


def gb2312_code_points() -> set[int]:
    points = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                points.add(ord(bytes([high, low]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return points


def main(source: str, target: str) -> None:
    font = TTCollection(source).fonts[0]
    wanted = gb2312_code_points() | {cp for lo, hi in RANGES for cp in range(lo, hi)}
    cmap = font.getBestCmap()
    keep = sorted(cp for cp in wanted if cp in cmap)
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=keep)
    subsetter.subset(font)
    font.save(target)
    print(f"{target}: {len(keep)} code points")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
