"""Payment notices (配售确认及缴款通知书) as PDF and XLSX, from ``PaymentNotice`` values."""

from __future__ import annotations

import io
from collections.abc import Sequence

import xlsxwriter

from absflow.bookbuilding.model import percent_text
from absflow.bookbuilding.notices import PaymentNotice, china_date_text, china_time_text, yuan_text
from absflow.reports.pdf import PdfDocument

TITLE = "配售确认及缴款通知书"


def _term_text(notice: PaymentNotice) -> str:
    return f"{notice.term_months}个月" if notice.term_months else "以计划说明书为准"


def notice_rows(notice: PaymentNotice) -> list[tuple[str, str]]:
    """The labelled facts of a notice, in the order both formats print them."""
    return [
        ("投资者名称", notice.investor),
        ("统一社会信用代码", notice.investor_credit_code),
        ("专项计划名称", notice.plan_name),
        ("证券简称", notice.security_name),
        ("证券代码", notice.security_code or "待定"),
        ("发行规模（元）", yuan_text(notice.size_yuan)),
        ("期限", _term_text(notice)),
        ("票面利率", f"{percent_text(notice.coupon)}%"),
        ("获配面额（元）", yuan_text(notice.allocated_face_yuan)),
        ("发行价格（元/百元面值）", yuan_text(notice.issue_price)),
        ("应缴款金额（元）", yuan_text(notice.amount_due_yuan)),
        ("缴款截止时间", china_time_text(notice.payment_deadline)),
        ("收款账户名称", notice.payee_name),
        ("收款账户开户行", notice.payee_bank),
        ("收款账号", notice.payee_account),
    ]


def _document(notice: PaymentNotice) -> PdfDocument:
    doc = PdfDocument(title=f"{TITLE} {notice.notice_no}", author=notice.manager_name,
                      footer=f"{notice.plan_name} · 编号 {notice.notice_no}")
    doc.heading(TITLE, title=True)
    doc.paragraph(f"编号：{notice.notice_no}", small=True)
    doc.spacer(2)
    doc.paragraph(f"致：{notice.investor}")
    doc.paragraph(
        f"根据{notice.plan_name}（以下简称“本专项计划”）簿记建档结果，贵单位获配本专项计划"
        f"{notice.security_name}资产支持证券，现将配售结果及缴款事宜通知如下："
    )
    doc.spacer(2)
    doc.key_values(notice_rows(notice), key_width_fraction=0.32)
    doc.spacer(3)
    doc.paragraph("缴款说明：", markup=False)
    doc.paragraph(
        f"1. 请贵单位于{china_time_text(notice.payment_deadline)}前将应缴款金额足额划至上述收款账户，"
        "划款用途请注明“证券简称 + 认购款”。"
    )
    doc.paragraph("2. 逾期未足额缴款的，计划管理人有权取消贵单位的获配资格，并按有关规定处理。")
    doc.paragraph("3. 如对本通知有疑问，请及时与计划管理人联系。")
    doc.spacer(8)
    doc.paragraph(f"计划管理人：{notice.manager_name}")
    doc.paragraph(f"日期：{china_date_text(notice.issued_at)}")
    return doc


def notice_pdf(notice: PaymentNotice) -> bytes:
    """One investor's notice as a one-page PDF (Chinese text, shipped font embedded)."""
    return _document(notice).build()


def notice_xlsx(notice: PaymentNotice) -> bytes:
    """One investor's notice as a workbook: one sheet of labelled facts (amounts as numbers)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"title": TITLE, "author": notice.manager_name,
                         "created": notice.issued_at.replace(tzinfo=None)})
    sheet = book.add_worksheet("缴款通知书")
    title = book.add_format({"bold": True, "font_size": 14})
    label = book.add_format({"bold": True, "bg_color": "#F2F4F7", "border": 1})
    text = book.add_format({"border": 1})
    money = book.add_format({"border": 1, "num_format": "#,##0.00"})
    sheet.set_column(0, 0, 26)
    sheet.set_column(1, 1, 52)
    sheet.write(0, 0, TITLE, title)
    sheet.write(1, 0, "编号", label)
    sheet.write(1, 1, notice.notice_no, text)
    numbers = {
        "发行规模（元）": notice.size_yuan, "获配面额（元）": notice.allocated_face_yuan,
        "发行价格（元/百元面值）": notice.issue_price, "应缴款金额（元）": notice.amount_due_yuan,
    }
    for r, (key, value) in enumerate(notice_rows(notice), start=2):
        sheet.write(r, 0, key, label)
        if key in numbers:
            sheet.write_number(r, 1, float(numbers[key]), money)
        else:
            sheet.write_string(r, 1, value, text)
    book.close()
    return buffer.getvalue()


def notices_register_xlsx(notices: Sequence[PaymentNotice]) -> bytes:
    """All notices of an offering in one sheet (配售结果汇总), one row per investor."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    if notices:
        book.set_properties({"title": "配售结果汇总", "created": notices[0].issued_at.replace(tzinfo=None)})
    sheet = book.add_worksheet("配售结果汇总")
    header = book.add_format({"bold": True, "bg_color": "#2F4F6F", "font_color": "#FFFFFF", "border": 1})
    money = book.add_format({"num_format": "#,##0.00"})
    columns = ["编号", "投资者名称", "统一社会信用代码", "证券简称", "证券代码", "票面利率(%)", "获配面额（元）",
               "应缴款金额（元）", "缴款截止时间"]
    for c, name in enumerate(columns):
        sheet.write(0, c, name, header)
    for r, n in enumerate(notices, start=1):
        sheet.write_string(r, 0, n.notice_no)
        sheet.write_string(r, 1, n.investor)
        sheet.write_string(r, 2, n.investor_credit_code)
        sheet.write_string(r, 3, n.security_name)
        sheet.write_string(r, 4, n.security_code)
        sheet.write_string(r, 5, percent_text(n.coupon))
        sheet.write_number(r, 6, float(n.allocated_face_yuan), money)
        sheet.write_number(r, 7, float(n.amount_due_yuan), money)
        sheet.write_string(r, 8, china_time_text(n.payment_deadline))
    sheet.set_column(0, 0, 22)
    sheet.set_column(1, 1, 36)
    sheet.set_column(2, 8, 18)
    book.close()
    return buffer.getvalue()
