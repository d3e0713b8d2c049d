"""Shared CLI state: one service context per process, opened on first use."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from absflow.services.context import Context


@lru_cache(maxsize=1)
def context() -> Context:
    """Service context on ``ABSFLOW_DATABASE_URL`` (default ./absflow.db), schema upgraded."""
    from absflow.services.context import open_context  # imported when a command first needs the database

    return open_context()
