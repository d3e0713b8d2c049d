"""absflow.calendar."""
