"""absflow.pool."""
