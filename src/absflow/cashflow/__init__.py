"""absflow.cashflow."""
