"""The deal document: parsing, every problem with its path, the JSON Schema, the 14 seed-001 deals."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from absflow.deal import deal_json_schema, parse_deal, parse_deal_text, parse_document
from absflow.deal.model import DealStatus, EffectKind, Metric, PrincipalType, PurchaseMode
from absflow.domain.issues import ValidationFailed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "deals"
QILU = EXAMPLES / "03_qilu_dfzq_1.yaml"


def _load(path: Path = QILU) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _problems(data: Any) -> dict[str, set[str]]:
    with pytest.raises(ValidationFailed) as info:
        parse_deal(data)
    found: dict[str, set[str]] = {}
    for issue in info.value.issues:
        found.setdefault(issue.location.field_path or "", set()).add(issue.code)
    return found


def test_seed_deal_parses_into_frozen_model() -> None:
    deal = parse_deal_text(QILU.read_text(encoding="utf-8"))
    assert deal.name == "齐鲁资管-东方证券融出资金债权1号资产支持专项计划"
    assert [t.id for t in deal.tranches] == ["A", "B"]
    assert deal.tranches[0].size == Decimal("950000000.00")
    assert deal.tranches[0].coupon.rate == Decimal("0.0335")
    assert deal.tranches[0].principal_type is PrincipalType.BULLET
    assert deal.periods.revolving is not None
    assert deal.periods.revolving.interim_amortization_working_days == 4
    assert set(deal.waterfalls) == {DealStatus.REVOLVING, DealStatus.AMORTIZING, DealStatus.ACCELERATED}
    assert deal.triggers[3].threshold.value_on(deal.dates.establishment) == "0.01"
    assert deal.triggers[3].threshold.value_on(deal.dates.expected_maturity or deal.dates.legal_maturity) == "0.02"
    assert deal.triggers[0].effects[0].kind is EffectKind.STOP_REVOLVING
    assert deal.revolving is not None
    assert deal.revolving.purchase_mode is PurchaseMode.PRINCIPAL_AND_INTEREST_BUY_PRINCIPAL
    assert [e.id for e in deal.revolving.eligibility][:2] == ["E01", "E02"]
    with pytest.raises(AttributeError):
        deal.tranches[0].size = Decimal(1)  # type: ignore[misc]


def test_json_and_yaml_give_the_same_deal() -> None:
    data = _load()
    deal, normalized = parse_document(data)
    again, normalized_again = parse_document(normalized)
    assert again == deal
    assert normalized_again == normalized
    assert normalized["tranches"][0]["class"] == "senior"


def test_every_problem_is_listed_with_its_path() -> None:
    data = _load()
    data["tranches"][1]["size"] = "-5"
    data["dates"]["first_payment"] = "2016-05-01"  # before establishment
    data["waterfalls"]["revolving"][2]["tranches"] = ["A", "C"]  # unknown tranche
    data["waterfalls"]["amortizing"][0]["source"] = "reserve"  # unknown account
    data["triggers"][1]["metric"] = "moon_phase"  # unknown metric
    data["waterfalls"]["accelerated"] = [{"action": "transfer", "to": "collection", "limit": {"kind": "amount",
                                                                                             "amount": "1"}}]
    found = _problems(data)
    assert "negative" in found["tranches[1].size"]
    assert "dates_out_of_order" in found["dates.first_payment"]
    assert "unknown_tranche" in found["waterfalls.revolving[2].tranches[1]"]
    assert "unknown_account" in found["waterfalls.amortizing[0].source"]
    assert "unknown_metric" in found["triggers[1].metric"]
    assert "pays_nothing" in found["waterfalls.accelerated"]


def test_shape_problems_carry_paths_too() -> None:
    data = _load()
    data["tranches"][0]["size"] = "a lot"
    data["tranches"][1]["colour"] = "red"
    del data["dates"]["legal_maturity"]
    found = _problems(data)
    assert "decimal_parsing" in found["tranches[0].size"]
    assert "unknown_field" in found["tranches[1].colour"]
    assert "required" in found["dates.legal_maturity"]


def test_references_across_sections_are_checked() -> None:
    data = _load()
    data["triggers"][0]["effects"] = [{"kind": "switch_waterfall", "waterfall": "nowhere"},
                                      {"kind": "change_status", "status": "defaulted"}]
    data["credit_enhancement"]["liquidity_support"][0]["tranches"] = ["Z"]
    data["waterfalls"]["revolving"][3]["facility"] = "nobody"
    data["revolving"]["concentration"][0]["id"] = "E01"
    data["revolving"]["concentration"][1]["max_share"] = "1.5"
    data["revolving"]["maintenance_lines"]["warning"] = "1.2"
    found = _problems(data)
    assert "unknown_waterfall" in found["triggers[0].effects[0].waterfall"]
    assert "missing_waterfall" in found["triggers[0].effects[1].status"]
    assert "unknown_tranche" in found["credit_enhancement.liquidity_support[0].tranches[0]"]
    assert "unknown_facility" in found["waterfalls.revolving[3].facility"]
    assert "duplicate_id" in found["revolving.concentration[0].id"]
    assert "out_of_range" in found["revolving.concentration[1].max_share"]
    assert "out_of_order" in found["revolving.maintenance_lines.warning"]


def test_a_tranche_nobody_repays_is_reported() -> None:
    data = _load()
    for key in ("amortizing", "accelerated"):
        data["waterfalls"][key] = [a for a in data["waterfalls"][key] if "B" not in a.get("tranches", [])]
    data["waterfalls"]["revolving"] = [a for a in data["waterfalls"]["revolving"] if "B" not in a.get("tranches", [])]
    assert "never_repaid" in _problems(data)["tranches[1]"]


def test_not_a_mapping_and_bad_yaml() -> None:
    with pytest.raises(ValidationFailed):
        parse_deal(["a", "list"])
    with pytest.raises(ValidationFailed) as info:
        parse_deal_text("name: [unclosed")
    assert info.value.issues[0].code == "syntax"


def test_schema_lists_sections_and_metric_names() -> None:
    schema = deal_json_schema()
    assert schema["title"] == "absflow deal document"
    for section in ("dates", "pool", "tranches", "accounts", "fees", "periods", "waterfalls", "triggers",
                    "credit_enhancement", "revolving"):
        assert section in schema["properties"]
    trigger = schema["$defs"]["TriggerDoc"]
    assert set(trigger["properties"]["metric"]["enum"]) == {x.value for x in Metric}
    assert "class" in schema["$defs"]["TrancheDoc"]["properties"]


def test_all_fourteen_seed_deals_load_and_validate() -> None:
    paths = sorted(EXAMPLES.glob("*.yaml"))
    assert len(paths) == 14
    names = set()
    for path in paths:
        deal = parse_deal_text(path.read_text(encoding="utf-8"))
        names.add(deal.name)
        assert sum((t.size for t in deal.tranches), Decimal(0)) > 0
    assert len(names) == 14


def test_validation_does_not_mutate_input() -> None:
    data = _load()
    before = copy.deepcopy(data)
    parse_deal(data)
    assert data == before
