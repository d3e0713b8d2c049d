"""absflow.access."""
