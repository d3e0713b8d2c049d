"""absflow: runs exchange asset-backed securitization plans for their plan manager."""

__version__ = "0.1.0"
