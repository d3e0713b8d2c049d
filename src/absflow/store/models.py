"""All row modules, imported so ``metadata`` knows every table (Alembic and tests use it).

Each area adds its row module here.
"""

from __future__ import annotations

import absflow.store.analytics  # noqa: F401
import absflow.store.bookbuilding  # noqa: F401
import absflow.store.daily  # noqa: F401
import absflow.store.deals  # noqa: F401
import absflow.store.tapes  # noqa: F401
from absflow.store import log, plans  # noqa: F401
from absflow.store import users as user_rows  # noqa: F401
from absflow.store.base import Base

metadata = Base.metadata
