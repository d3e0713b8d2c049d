"""absflow.reports."""
