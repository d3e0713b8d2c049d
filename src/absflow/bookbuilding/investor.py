"""Investors (客户信息): types, and the unified social credit code (统一社会信用代码, GB 32100-2015)."""

from __future__ import annotations

from enum import StrEnum

from absflow.domain.issues import Issue, Location

#: The 31 characters a credit code may use (no I, O, S, V, Z), in value order.
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class InvestorType(StrEnum):
    """Kinds of institutional investor seen in exchange ABS books."""

    BANK = "bank"  # 银行自营
    BANK_WEALTH = "bank_wealth"  # 银行理财
    SECURITIES = "securities"  # 证券公司
    FUND = "fund"  # 基金公司及子公司
    INSURANCE = "insurance"  # 保险公司
    TRUST = "trust"  # 信托
    PRIVATE_FUND = "private_fund"  # 私募基金
    OTHER = "other"


def credit_code_check_char(first17: str) -> str:
    """The 18th (check) character for the first 17 characters of a credit code (mod-31 checksum)."""
    total = sum(CREDIT_CODE_CHARSET.index(ch) * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def credit_code_issues(code: str, *, field_path: str = "credit_code") -> list[Issue]:
    """Problems with a unified social credit code: length 18, allowed characters, check character."""
    where = Location(field_path=field_path)
    text = code.strip().upper()
    if len(text) != 18:
        return [Issue("credit_code_length", f"a unified social credit code has 18 characters, not {len(text)}",
                      where, code)]
    bad = sorted({ch for ch in text if ch not in CREDIT_CODE_CHARSET})
    if bad:
        return [Issue("credit_code_characters", f"characters {''.join(bad)!r} cannot appear in a unified social "
                      "credit code", where, code)]
    expected = credit_code_check_char(text[:17])
    if text[17] != expected:
        return [Issue("credit_code_checksum", f"the check character is {text[17]!r} but should be {expected!r}; "
                      "the code is mistyped", where, code)]
    return []


def normalize_credit_code(code: str) -> str:
    return code.strip().upper()
