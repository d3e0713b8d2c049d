"""absflow.revolving: eligibility, mark-to-market, concentration-checked revolving selection.

Pure and vectorized (numpy): tables of assets in, masks, classes and selections out.
The rules come from the deal document (``absflow.deal.model.RevolvingSpec``). See
docs/revolving.md.
"""

from absflow.revolving.delivery import DeliveryLine, DeliveryList, delivery_list
from absflow.revolving.eligibility import EligibilityResult, check_eligibility
from absflow.revolving.mtm import AssetClass, Positions, classify, client_ratios
from absflow.revolving.selection import Breach, Selection, check_limits, rank_order, select_purchases
from absflow.revolving.table import AssetTable, empty_table, group_totals

__all__ = [
    "AssetClass",
    "AssetTable",
    "Breach",
    "DeliveryLine",
    "DeliveryList",
    "EligibilityResult",
    "Positions",
    "Selection",
    "check_eligibility",
    "check_limits",
    "classify",
    "client_ratios",
    "delivery_list",
    "empty_table",
    "group_totals",
    "rank_order",
    "select_purchases",
]
