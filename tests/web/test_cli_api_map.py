"""Every CLI command has an API endpoint (or a stated reason it has none), per docs/api.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.main import get_command

from absflow.cli.main import app as cli_app

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ENDPOINT = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^` ?]*)")


def cli_commands() -> set[str]:
    found: set[str] = set()

    def walk(command: Any, path: list[str]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            found.add(" ".join(path))
            return
        for name, sub in subcommands.items():
            walk(sub, [*path, name])

    walk(get_command(cli_app), [])
    return found


def documented() -> dict[str, str]:
    """CLI command → the endpoint cell of its row in docs/api.md."""
    rows = {}
    for line in API_DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `([a-z][a-z -]*)` \| (.*?) \| .* \|$", line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} listed twice"
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_cli_command_has_an_endpoint_or_a_reason(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    rows = documented()
    commands = cli_commands()
    assert len(commands) > 60  # the walk sees the whole Typer app, groups included
    missing = sorted(commands - set(rows))
    assert not missing, f"CLI commands without an endpoint or a reason in docs/api.md: {missing}"
    stale = sorted(set(rows) - commands)
    assert not stale, f"docs/api.md lists commands the CLI does not have: {stale}"
    for command, cell in sorted(rows.items()):
        if cell.startswith("local: "):
            assert len(cell) > 30, f"{command}: say why it has no endpoint"
            continue
        endpoints = ENDPOINT.findall(cell)
        assert endpoints, f"{command}: no endpoint named in {cell!r}"
        for method, path in endpoints:
            full = "/api/v1" + path
            assert full in paths and method.lower() in paths[full], f"{command}: no {method} {full}"
