"""PDF documents with correct Chinese text and no system fonts: a shipped CJK font and a small builder.

The font is WenQuanYi Micro Hei (Apache-2.0), subset to GB 2312 and shipped in
``absflow/reports/fonts``; reportlab embeds only the glyphs a document uses. Output is
byte-for-byte reproducible for the same content (no creation date or random id inside).

Typical use::

    doc = PdfDocument(title="配售确认及缴款通知书")
    doc.heading("配售确认及缴款通知书")
    doc.paragraph("致：某某基金管理有限公司")
    doc.key_values([("证券简称", "融出1优A"), ("票面利率", "2.70%")])
    doc.table(["标位", "金额（万元）"], [["2.70%", "27,100"]], align_right=[1])
    pdf_bytes = doc.build()
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import LayoutError

#: Name under which the shipped CJK font is registered with reportlab.
CJK_FONT = "WenQuanYiMicroHei"
FONT_FILE = "wqy-microhei-gb2312.ttf"
FONT_LICENSE_FILE = "LICENSE-wqy-microhei.txt"


def font_path() -> Path:
    """Path of the shipped TTF (inside the installed package)."""
    return Path(str(resources.files("absflow.reports") / "fonts" / FONT_FILE))


@cache
def register_fonts() -> str:
    """Register the shipped CJK font with reportlab (once per process) and return its name."""
    pdfmetrics.registerFont(TTFont(CJK_FONT, str(font_path())))
    return CJK_FONT


@cache
def _covered_code_points() -> frozenset[int]:
    register_fonts()
    font = pdfmetrics.getFont(CJK_FONT)
    return frozenset(font.face.charToGlyph.keys())


def missing_glyphs(text: str) -> set[str]:
    """Characters of ``text`` the shipped font cannot draw (they would print as empty boxes).

    Whitespace and control characters are ignored. Use it to warn before issuing a document
    with a rare character (the font covers GB 2312: 6,763 hanzi plus Latin and punctuation).
    """
    covered = _covered_code_points()
    return {ch for ch in text if not ch.isspace() and ord(ch) >= 0x20 and ord(ch) not in covered}


def escape(text: object) -> str:
    """Text made safe for reportlab's paragraph markup (``&``, ``<``, ``>``)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Styles:
    """Paragraph styles of a document; all use the CJK font and CJK line breaking."""

    title: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_right: ParagraphStyle
    cell_header: ParagraphStyle


def make_styles(base_size: float = 10.5) -> Styles:
    font = register_fonts()
    body = ParagraphStyle("body", fontName=font, fontSize=base_size, leading=base_size * 1.5, wordWrap="CJK")
    return Styles(
        title=ParagraphStyle("title", parent=body, fontSize=base_size * 1.6, leading=base_size * 2.2,
                             alignment=TA_CENTER, spaceAfter=base_size),
        heading=ParagraphStyle("heading", parent=body, fontSize=base_size * 1.2, leading=base_size * 1.8,
                               spaceBefore=base_size * 0.6, spaceAfter=base_size * 0.3),
        body=body,
        small=ParagraphStyle("small", parent=body, fontSize=base_size * 0.8, leading=base_size * 1.2,
                             textColor=colors.HexColor("#555555")),
        cell=ParagraphStyle("cell", parent=body, fontSize=base_size * 0.9, leading=base_size * 1.25),
        cell_right=ParagraphStyle("cell_right", parent=body, fontSize=base_size * 0.9, leading=base_size * 1.25,
                                  alignment=TA_RIGHT),
        cell_header=ParagraphStyle("cell_header", parent=body, fontSize=base_size * 0.9,
                                   leading=base_size * 1.25, textColor=colors.white),
    )


HEADER_BACKGROUND = colors.HexColor("#2f4f6f")
GRID_COLOUR = colors.HexColor("#9aa5b1")
ZEBRA = colors.HexColor("#f2f4f7")


class PdfDocument:
    """A simple flowing document: title, headings, paragraphs, key/value blocks and tables.

    ``footer`` is printed at the bottom of every page with the page number ("第 n 页").
    Call ``build()`` for the PDF bytes (or ``save(path)``); pages are A4, portrait unless
    ``landscape_pages``.
    """

    def __init__(
        self,
        *,
        title: str,
        author: str = "absflow",
        footer: str = "",
        landscape_pages: bool = False,
        base_font_size: float = 10.5,
        margin_mm: float = 18,
    ) -> None:
        self.title = title
        self.author = author
        self.footer = footer
        self.page_size = landscape(A4) if landscape_pages else A4
        self.margin = margin_mm * mm
        self.styles = make_styles(base_font_size)
        self.story: list[Flowable] = []

    # -- content ---------------------------------------------------------------------
    @property
    def width(self) -> float:
        """Usable width between the margins, in points."""
        return float(self.page_size[0] - 2 * self.margin)

    def heading(self, text: str, *, title: bool = False) -> PdfDocument:
        self.story.append(Paragraph(escape(text), self.styles.title if title else self.styles.heading))
        return self

    def paragraph(self, text: str, *, small: bool = False, markup: bool = False) -> PdfDocument:
        """A paragraph; ``markup=True`` lets reportlab tags (<b>, <br/>) through unescaped."""
        self.story.append(Paragraph(text if markup else escape(text), self.styles.small if small else self.styles.body))
        return self

    def spacer(self, height_mm: float = 4) -> PdfDocument:
        self.story.append(Spacer(1, height_mm * mm))
        return self

    def page_break(self) -> PdfDocument:
        self.story.append(PageBreak())
        return self

    def key_values(self, rows: Iterable[tuple[str, object]], *, key_width_fraction: float = 0.3) -> PdfDocument:
        """A two-column block of labels and values, kept on one page."""
        data = [[Paragraph(escape(k), self.styles.cell), Paragraph(escape(v), self.styles.cell)] for k, v in rows]
        if not data:
            return self
        key_width = self.width * key_width_fraction
        table = Table(data, colWidths=[key_width, self.width - key_width])
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.5, GRID_COLOUR),
            ("BACKGROUND", (0, 0), (0, -1), ZEBRA),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]))
        self.story.append(KeepTogether([table]))
        return self

    def table(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[object]],
        *,
        col_widths: Sequence[float] | None = None,
        align_right: Iterable[int] = (),
        repeat_header: bool = True,
        zebra: bool = True,
    ) -> PdfDocument:
        """A table with a header row repeated on each page.

        ``col_widths`` are fractions of the usable width (they need not sum to 1; they are
        scaled); ``align_right`` lists the column indexes holding numbers.
        """
        right = set(align_right)
        header = [Paragraph(escape(c), self.styles.cell_header) for c in columns]
        body = [
            [Paragraph(escape("" if v is None else v), self.styles.cell_right if i in right else self.styles.cell)
             for i, v in enumerate(row)]
            for row in rows
        ]
        if col_widths is None:
            widths = [self.width / len(columns)] * len(columns)
        else:
            scale = self.width / sum(col_widths)
            widths = [w * scale for w in col_widths]
        table = Table([header, *body], colWidths=widths, repeatRows=1 if repeat_header else 0)
        style: list[tuple[Any, ...]] = [
            ("GRID", (0, 0), (-1, -1), 0.5, GRID_COLOUR),
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_BACKGROUND),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
        if zebra:
            style.extend(("BACKGROUND", (0, r), (-1, r), ZEBRA) for r in range(2, len(body) + 1, 2))
        table.setStyle(TableStyle(style))
        self.story.append(table)
        return self

    def flowable(self, item: Flowable) -> PdfDocument:
        """Add any reportlab flowable (a chart, an image) for what the helpers do not cover."""
        self.story.append(item)
        return self

    # -- output ----------------------------------------------------------------------
    def _draw_footer(self, canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(CJK_FONT, 8)
        canvas.setFillColor(colors.HexColor("#555555"))
        text = f"{self.footer}    第 {doc.page} 页" if self.footer else f"第 {doc.page} 页"
        canvas.drawCentredString(self.page_size[0] / 2, self.margin / 2, text)
        canvas.restoreState()

    def build(self) -> bytes:
        """Render the document to PDF bytes (reproducible for the same content)."""
        buffer = io.BytesIO()
        template = SimpleDocTemplate(
            buffer,
            pagesize=self.page_size,
            leftMargin=self.margin,
            rightMargin=self.margin,
            topMargin=self.margin,
            bottomMargin=self.margin,
            title=self.title,
            author=self.author,
            creator="absflow",
            invariant=1,
        )
        try:
            template.build(list(self.story), onFirstPage=self._draw_footer, onLaterPages=self._draw_footer)
        except LayoutError as exc:  # a single cell taller than a page
            raise ValueError(f"content does not fit on a page: {exc}") from exc
        return buffer.getvalue()

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_bytes(self.build())
        return target


def merge_documents(documents: Sequence[PdfDocument], *, title: str) -> bytes:
    """One PDF holding several documents one after another, each starting on a new page."""
    if not documents:
        raise ValueError("nothing to merge")
    first = documents[0]
    merged = PdfDocument(title=title, footer=first.footer, landscape_pages=first.page_size != A4)
    for i, doc in enumerate(documents):
        if i:
            merged.page_break()
        merged.story.extend(doc.story)
    return merged.build()
