"""absflow.distributed."""
