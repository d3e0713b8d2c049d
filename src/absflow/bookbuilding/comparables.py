"""Comparable deals: the 14 margin-financing receivable ABS (融出资金债权 ABS) issued to the end
of 2017, from seed 001's appendices 一 and 二 (source there: Wind, CNABS). Coupons are the
senior (AAA) tranche's; sizes are the whole programme's; ``originator_rating`` is the
originator's own credit rating (appendix 二). The 中信证券-博时资本 deal has no known value
date or term."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Comparable:
    """A past issue: senior coupon (fraction), size (yuan), term (months), value date (起息日)."""

    name: str
    originator: str | None
    coupon: Decimal
    size_yuan: Decimal
    term_months: int | None
    value_date: date | None
    manager: str | None = None
    rating_agency: str | None = None
    venue: str | None = None
    structure: str | None = None
    originator_rating: str | None = None
    own_plan: bool = False


_YI = Decimal(100_000_000)


def _deal(name: str, originator: str, manager: str, agency: str, venue: str, size_yi: int, structure: str,
          coupon_pct: str, value_date: date | None, term: int | None, rating: str = "AAA") -> Comparable:
    return Comparable(name=name, originator=originator, coupon=Decimal(coupon_pct) / 100, size_yuan=size_yi * _YI,
                      term_months=term, value_date=value_date, manager=manager, rating_agency=agency, venue=venue,
                      structure=structure, originator_rating=rating)


MARGIN_LOAN_DEALS: tuple[Comparable, ...] = (
    _deal("国君华泰融出资金债权资产证券化1号资产支持专项计划", "国泰君安证券股份有限公司",
          "华泰证券(上海)资产管理有限公司", "新世纪", "上交所", 5, "优先级(AAAsf)/次级(NR):95%/5%", "4.90",
          date(2015, 8, 7), 14),
    _deal("华泰国君融出资金债权1号资产支持专项计划", "华泰证券股份有限公司", "国泰君安证券资产管理有限公司",
          "中诚信证评", "上交所", 5, "优先级(AAAsf)/次级(NR):95%/5%", "4.90", date(2015, 8, 7), 13),
    _deal("齐鲁资管-东方证券融出资金债权1号资产支持专项计划", "东方证券股份有限公司", "中泰证券(上海)资产管理有限公司",
          "中诚信证评", "上交所", 10, "优先级(AAAsf)/次级(NR):95%/5%", "3.35", date(2016, 6, 1), 18),
    _deal("东证资管-中泰证券融出资金债权1号资产支持专项计划", "中泰证券股份有限公司", "上海东方证券资产管理有限公司",
          "中诚信证评", "上交所", 10, "优先级(AAAsf)/次级(NR):95%/5%", "3.40", date(2016, 6, 1), 18),
    _deal("中国中投证券-东莞证券融出资金债权1号资产支持专项计划", "东莞证券股份有限公司", "中国中投证券有限责任公司",
          "中诚信证评", "上交所", 15, "优先级(AAAsf)/次级(AAsf)/次级(NR):80%/15%/5%", "3.80", date(2016, 6, 17), 36,
          rating="AA+"),
    _deal("易方达资产-东方证券融出资金债权2号资产支持专项计划", "东方证券股份有限公司", "易方达资产管理有限公司",
          "新世纪", "上交所", 10, "优先级(AAAsf)/次级(NR):97%/3%", "4.83", date(2017, 4, 20), 24),
    _deal("齐鲁资管-西部证券融出资金债权1号资产支持专项计划", "西部证券股份有限公司", "齐鲁证券(上海)资产管理有限公司",
          "大公", "上交所", 10, "优先级(AAAsf)/次级(NR):92.45%/7.55%", "5.10", date(2017, 6, 2), 12),
    _deal("易方达资产-东方证券融出资金债权3号资产支持专项计划", "东方证券股份有限公司", "易方达资产管理有限公司",
          "新世纪", "上交所", 10, "优先级(AAAsf)/次级(NR):97%/3%", "4.95", date(2017, 7, 14), 24),
    _deal("浦银安盛资管-申万宏源证券融出资金债权1号资产支持专项计划", "申万宏源证券有限公司",
          "上海浦银安盛资产管理有限公司", "新世纪", "深交所", 20, "优先级(AAAsf)/次级(NR):95%/5%", "5.00",
          date(2017, 8, 24), 18),
    _deal("西部证券-中泰证券融出资金债权1号资产支持专项计划", "中泰证券股份有限公司", "西部证券股份有限公司",
          "中诚信证评", "上交所", 10, "优先级(AAAsf)/次级(NR):95%/5%", "4.84", date(2017, 9, 8), 12),
    _deal("浦银安盛资管-申万宏源证券融出资金债权2号资产支持专项计划", "申万宏源证券有限公司",
          "上海浦银安盛资产管理有限公司", "新世纪", "深交所", 30, "优先级(AAAsf)/次级(NR):95%/5%", "5.25",
          date(2017, 11, 17), 18),
    _deal("华泰资管-海通证券融出资金债权一期资产支持专项计划", "海通证券股份有限公司", "华泰证券(上海)资产管理有限公司",
          "中诚信证评", "上交所", 20, "优先级(AAAsf)/次级(NR):95%/5%", "5.20", date(2017, 11, 17), 18),
    _deal("光证资管-中国中投证券融出资金债权一期资产支持专项计划", "中国中投证券有限责任公司",
          "上海光大证券资产管理有限公司", "新世纪", "上交所", 20, "优先级(AAAsf)/次级(NR):95%/5%", "5.45",
          date(2017, 11, 21), 36),
    _deal("中信证券-博时资本融出资金债权1号资产支持专项计划", "中信证券股份有限公司", "博时资本管理有限公司",
          "中诚信证评", "上交所", 15, "优先级(AAAsf)/次级(NR):95%/5%", "3.65", None, None),
)
