"""Triggers in daily operations: "fund idle rate above y for k days" with k = 3, pause and resume.

The small plan (tests/daily/small_plan.py) starts with no cash. Collecting 200,000.00 yuan of
principal (two loans repaid) with nothing to buy leaves cash idle: the reserve for the coming coupon and fee
takes 3,100.00 (A: 900,000.00 × 3.65% × 31/365 = 2,790.00; fee 3,650.00 × 31/365 = 310.00),
so 196,900.00 stay idle against a pool of 800,000.00: idle rate 196,900 / 996,900 ≈ 19.75%.
"""

from __future__ import annotations

from datetime import date

import pytest
from tests.daily.small_plan import DEAL_TEMPLATE, Driver, candidates, collections, indicators, small_deal

from absflow.deal import deal_json_schema, parse_deal_text
from absflow.deal.model import Metric
from absflow.domain.issues import ValidationFailed

IDLE_K3 = """
  - {id: idle, name: 资金闲置率, metric: fund_idle_rate, comparison: gt, threshold: "0.10",
     consecutive_days: 3, effects: [{kind: stop_revolving}, {kind: change_status, status: amortizing}]}
"""

REPAY_TWO = collections({"L01": (10_000_000, 0), "L02": (10_000_000, 0)})  # 200,000.00 of principal
D1, D2, D3, D4, D5, D6, D7, D8 = (date(2024, 3, d) for d in (4, 5, 6, 7, 8, 11, 12, 13))


def test_deal_document_carries_k() -> None:
    deal = small_deal(IDLE_K3)
    assert deal.triggers[0].consecutive_days == 3
    assert deal.triggers[0].metric is Metric.FUND_IDLE_RATE
    assert small_deal("""
  - {id: x, metric: fund_idle_rate, comparison: gt, threshold: "0.1", effects: [{kind: stop_revolving}]}
""").triggers[0].consecutive_days == 1


@pytest.mark.parametrize("bad", ["0", "-2", "2.5", '"3"'])
def test_a_bad_k_is_refused_at_its_field_path(bad: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        small_deal(IDLE_K3.replace("consecutive_days: 3", f"consecutive_days: {bad}"))
    assert [i.location.field_path for i in info.value.issues] == ["triggers[0].consecutive_days"]


def test_the_published_schema_has_k() -> None:
    prop = deal_json_schema()["$defs"]["TriggerDoc"]["properties"]["consecutive_days"]
    assert (prop["type"], prop["minimum"], prop["default"]) == ("integer", 1, 1)


def test_idle_above_y_for_three_days_stops_revolving_for_good() -> None:
    plan = Driver(small_deal(IDLE_K3))
    first = plan.run({"collections": REPAY_TWO})  # D1: 196,900.00 idle
    assert first.metrics["fund_idle_rate"] == "0.197512"  # 196,900 / 996,900
    assert plan.state.trigger_streaks["idle"] == 0  # D1 tests the day before (no day yet: 0)
    plan.run()  # D2: D1's rate is above 10%: 1 day
    assert plan.state.trigger_streaks["idle"] == 1
    plan.run()  # D3: 2 days
    assert (plan.state.trigger_streaks["idle"], plan.state.status) == (2, "revolving")
    fourth = plan.run()  # D4: 3 consecutive days → stop for good
    assert plan.state.trigger_streaks["idle"] == 3
    assert (fourth.status, fourth.purchase_state, plan.state.stopped_on) == ("amortizing", "stopped", D4)
    assert fourth.triggers == {"idle": {"days": "3", "needed": "3", "hit": "true"}}
    assert "trigger idle (资金闲置率, 3 days)" in (plan.state.stop_reason or "")
    # Cash put to work afterwards does not bring revolving back.
    fifth = plan.run({"candidates": candidates({"N1": 19_690_000}, D5)})
    assert (fifth.status, fifth.purchase_state, fifth.purchases.height) == ("amortizing", "stopped", 0)


def test_a_day_below_y_restarts_the_count() -> None:
    plan = Driver(small_deal(IDLE_K3))
    plan.run({"collections": REPAY_TWO})  # D1 idle
    plan.run()  # D2: 1
    third = plan.run({"candidates": candidates({"N1": 19_690_000}, D3)})  # D3: 2, then buys all idle cash
    assert third.purchases.height == 1 and third.metrics["fund_idle_rate"] == "0.000000"
    plan.run()  # D4: D3's rate 0 → the count restarts
    assert plan.state.trigger_streaks["idle"] == 0
    again = collections({"L03": (10_000_000, 0), "L04": (10_000_000, 0)})
    plan.run({"collections": again})  # D5: idle again (D4's rate is 0)
    assert plan.state.trigger_streaks["idle"] == 0
    for expected in (1, 2):  # D6, D7
        plan.run()
        assert (plan.state.trigger_streaks["idle"], plan.state.status) == (expected, "revolving")
    plan.run()  # D8: third day in a row
    assert plan.state.status == "amortizing" and plan.state.stopped_on == D8


def test_rerunning_a_day_from_the_same_state_gives_the_same_state() -> None:
    plan = Driver(small_deal(IDLE_K3))
    plan.run({"collections": REPAY_TWO})
    plan.run()
    before, day = plan.state, plan.day
    once = plan.run()
    plan.state, plan.day = before, day
    again = plan.run()
    assert once.state.to_json() == again.state.to_json()
    assert once.state.trigger_streaks == {"idle": 2}


def test_interim_window_days_do_not_count_as_idle() -> None:
    """Cash kept for the payment date by rule is not idle: window days are not measured."""
    plan = Driver(small_deal(IDLE_K3))
    plan.run_until(date(2024, 3, 25))
    plan.run({"collections": REPAY_TWO})  # 03-26: idle, measured
    window = [plan.run() for _ in range(4)]  # 03-27 … 04-01: window through the payment date
    assert [r.purchase_state for r in window] == ["window"] * 4
    assert plan.state.status == "revolving"
    assert plan.state.trigger_streaks["idle"] == 1  # only 03-26's rate was tested (on 03-27)
    assert plan.state.idle_measured is False


CURABLE_RATING = """
  - {id: rating_pause, metric: originator_rating, comparison: lt, threshold: AA, curable: true,
     consecutive_days: 3, effects: [{kind: stop_revolving}]}
"""


def test_curable_trigger_pauses_after_k_days_and_resumes_on_recovery() -> None:
    plan = Driver(small_deal(CURABLE_RATING))
    plan.run({"collections": REPAY_TWO})
    low = indicators({"originator_rating": "A+"})
    states = [plan.run({"indicators": low, "candidates": candidates({f"N{i}": 1_000_000}, plan.day)}).purchase_state
              for i in range(3)]
    assert states == ["purchased", "purchased", "paused"]  # paused on the third day below AA
    assert plan.state.trigger_streaks["rating_pause"] == 3
    assert plan.run({"indicators": low}).purchase_state == "paused"
    recovered = plan.run({"indicators": indicators({"originator_rating": "AA"}),
                          "candidates": candidates({"N9": 1_000_000}, plan.day)})
    assert (recovered.purchase_state, recovered.status) == ("purchased", "revolving")
    assert plan.state.trigger_streaks["rating_pause"] == 0
    # Without a rating that day the indicator is unknown: no test, the pause does not come back.
    assert plan.run({"candidates": candidates({"N10": 1_000_000}, plan.day)}).purchase_state == "purchased"


def test_a_pause_on_the_fund_idle_rate_is_refused_at_its_field_path() -> None:
    """A pause on idle cash could never end (paused cash cannot be spent, and is not measured):
    the document is refused, pointing at the field, instead of a plan paused for the rest of its life."""
    curable = IDLE_K3.replace("consecutive_days: 3, effects: [{kind: stop_revolving}, {kind: change_status, "
                              "status: amortizing}]", "curable: true, effects: [{kind: stop_revolving}]")
    with pytest.raises(ValidationFailed) as info:
        small_deal(curable)
    assert [(i.code, i.location.field_path) for i in info.value.issues] == [("pause_never_ends", "triggers[0].curable")]
    rule = "  pause_when: [{id: P01, metric: fund_idle_rate, comparison: gt, value: \"0.30\"}]\n"
    with pytest.raises(ValidationFailed) as info:
        parse_deal_text(DEAL_TEMPLATE.replace("TRIGGERS", "[]") + rule)
    assert [(i.code, i.location.field_path) for i in info.value.issues] == [
        ("pause_never_ends", "revolving.pause_when[0].metric")]
    # A curable trigger on another metric still pauses (and a non-curable idle trigger stops for good).
    assert small_deal(CURABLE_RATING).triggers[0].curable
    assert not small_deal(IDLE_K3).triggers[0].curable


def test_a_stored_version_attached_before_the_rule_still_loads() -> None:
    """An upgrade never makes a plan's stored deal unreadable: the rule applies when attaching."""
    from absflow.deal import load_text, parse_document

    document = load_text(DEAL_TEMPLATE.replace("TRIGGERS", "[]")
                         + "  pause_when: [{id: P01, metric: fund_idle_rate, comparison: gt, value: \"0.30\"}]\n")
    with pytest.raises(ValidationFailed):
        parse_document(document)
    deal, _ = parse_document(document, stored=True)
    assert deal.revolving is not None and deal.revolving.pause_when[0].metric is Metric.FUND_IDLE_RATE
