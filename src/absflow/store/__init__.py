"""Storage: SQLAlchemy 2 rows, engine and sessions, Alembic migrations (SQLite | PostgreSQL)."""
