"""The CLI starts without importing the services or the heavy libraries behind them: a command
imports what it uses when it runs (``absflow.cli.lazy``); ``absflow --help`` took ≈ 2 s before."""

import subprocess
import sys

HEAVY = ("absflow.services.", "absflow.store", "polars", "sqlalchemy", "numba", "scipy", "reportlab", "pandas")


def test_importing_the_cli_imports_no_service_or_heavy_library() -> None:
    code = ("import sys, absflow.cli.main; "
            f"print('\\n'.join(m for m in sys.modules if m.startswith({HEAVY!r})))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_a_lazy_service_is_the_real_module_once_used() -> None:
    from absflow.cli.lazy import service
    from absflow.services import plans

    lazy = service("plans")
    assert lazy.create_plan is plans.create_plan
    assert "plans" in repr(lazy)
