"""Alembic environment: the engine comes from ``config.attributes`` (see store/migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from absflow.store.db import make_engine
from absflow.store.models import metadata

config = context.config
engine: Engine = config.attributes.get("engine") or make_engine()

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
