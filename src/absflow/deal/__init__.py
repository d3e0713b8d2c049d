"""Deal documents: the versioned, validated description of a deal the cash-flow engine runs.

Pure core (no I/O): text or loaded data in, a frozen :class:`~absflow.deal.model.Deal` or a
``ValidationFailed`` listing every problem with its document path out.
"""

from absflow.deal.document import deal_json_schema, load_text, parse_deal, parse_deal_text, parse_document
from absflow.deal.model import Deal, DealStatus
from absflow.deal.validate import validate_deal

__all__ = [
    "Deal", "DealStatus", "deal_json_schema", "load_text", "parse_deal", "parse_deal_text", "parse_document",
    "validate_deal",
]
