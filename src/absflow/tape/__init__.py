"""absflow.tape."""
