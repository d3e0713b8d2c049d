"""Service modules the commands import when they first use them, not when the CLI starts.

``absflow --help`` and every command used to import every service (polars, numba, scipy,
SQLAlchemy, reportlab…): ≈ 1.8 s before anything ran. A command module names its services
with :func:`service`; the real module is imported on the first attribute read (the import
system's lock makes that safe from any thread), and tests that patch the real module are
seen through it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name``; imports it on first attribute access."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def service(name: str) -> Any:
    """``absflow.services.<name>``, imported when first used."""
    return LazyModule(f"absflow.services.{name}")
