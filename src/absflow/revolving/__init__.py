"""absflow.revolving."""
