"""absflow.cli."""
