"""No service module uses another module's private names (``_name``): imported or as ``obj._name``."""

from __future__ import annotations

import ast
from pathlib import Path

import absflow

PACKAGE = Path(absflow.__file__).parent


def _private_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("absflow."):
            found += [f"{path.name}:{node.lineno} {node.module}.{a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            if isinstance(base, ast.Name) and base.id not in {"self", "cls"}:
                found.append(f"{path.name}:{node.lineno} {base.id}.{node.attr}")
    return found


def test_services_use_only_public_names_of_other_modules() -> None:
    offenders = [hit for path in sorted((PACKAGE / "services").glob("*.py")) for hit in _private_imports(path)]
    assert offenders == []


def test_the_scan_finds_a_private_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from absflow.services.tapes import _hidden\nfrom absflow.services import deals\n"
                      "deals._secret(1)\n", encoding="utf-8")
    assert _private_imports(sample) == ["sample.py:1 absflow.services.tapes._hidden", "sample.py:3 deals._secret"]
