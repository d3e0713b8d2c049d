"""absflow.web."""
