"""absflow.documents."""
