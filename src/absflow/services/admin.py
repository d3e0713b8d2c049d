"""Administration: schema upgrades."""

from __future__ import annotations

from absflow.store.db import database_url_from_env, make_engine
from absflow.store.migrate import upgrade


def upgrade_database(url: str | None = None) -> str:
    """Upgrade the schema at ``url`` (default from the environment); returns the URL, password hidden."""
    engine = make_engine(url or database_url_from_env())
    upgrade(engine)
    return engine.url.render_as_string(hide_password=True)
