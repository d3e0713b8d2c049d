"""The shared PDF builder: Chinese text comes out as text, with the shipped font embedded."""

from __future__ import annotations

import io

import pypdf

from absflow.reports.pdf import CJK_FONT, PdfDocument, font_path, missing_glyphs


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_chinese_text_round_trips_and_the_font_is_embedded() -> None:
    doc = PdfDocument(title="测试文档", footer="资产服务报告")
    doc.heading("配售确认及缴款通知书", title=True)
    doc.paragraph("致：某某基金管理有限公司 <A&B>")
    doc.key_values([("票面利率", "2.70%"), ("获配面额（万元）", "27,100")])
    doc.table(["标位", "金额（万元）"], [[f"2.{n:02d}%", f"{n * 100:,}"] for n in range(1, 120)], align_right=[1])
    pdf = doc.build()
    text = _text(pdf)
    for expected in ("配售确认及缴款通知书", "某某基金管理有限公司", "<A&B>", "票面利率", "获配面额（万元）",
                     "2.70%", "资产服务报告", "第 1 页", "第 2 页"):
        assert expected in text
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2  # the long table flowed onto a second page
    fonts = {str(f["/BaseFont"]) for p in reader.pages for f in p["/Resources"]["/Font"].values()}
    assert any(CJK_FONT in name for name in fonts)  # embedded subset of the shipped font, no system font
    assert pdf == doc.build()  # reproducible bytes


def test_the_shipped_font_is_small_and_covers_gb2312() -> None:
    assert font_path().stat().st_size < 2_000_000
    assert missing_glyphs("配售确认及缴款通知书 ABC 123 ％（）、。") == set()
    assert missing_glyphs("镕") == {"镕"}  # outside GB 2312: callers can warn
