"""absflow.api."""
