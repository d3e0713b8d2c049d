"""absflow.bookbuilding."""
