"""Shared CLI state: one service context per process, opened on first use."""

from __future__ import annotations

from functools import lru_cache

from absflow.services.context import Context, open_context


@lru_cache(maxsize=1)
def context() -> Context:
    """Service context on ``ABSFLOW_DATABASE_URL`` (default ./absflow.db), schema upgraded."""
    return open_context()
