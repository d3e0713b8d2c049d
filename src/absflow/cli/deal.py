"""`absflow deal …`: the plan registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from absflow.cli.common import context
from absflow.cli.lazy import service
from absflow.cli.output import console, print_json, table, user_errors
from absflow.domain.plan import Party, PartyRole, Plan

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import plans as plan_service
else:
    plan_service = service("plans")

app = typer.Typer(help="Plans (专项计划): create, list, show, advance the lifecycle.", no_args_is_help=True)


def _plan_json(plan: Plan) -> dict[str, object]:
    return {
        "code": plan.code,
        "name": plan.name,
        "asset_type": plan.asset_type.value,
        "status": plan.status.value,
        "status_zh": plan.status.label_zh,
        "created_at": plan.created_at.isoformat(),
        "parties": [{"role": p.role.value, "name": p.name} for p in plan.parties],
    }


def _parse_party(text: str) -> Party:
    role, sep, name = text.partition("=")
    if not sep or not name.strip():
        raise typer.BadParameter(f"expected ROLE=NAME, got {text!r}")
    try:
        return Party(PartyRole(role.strip()), name.strip())
    except ValueError:
        roles = ", ".join(r.value for r in PartyRole)
        raise typer.BadParameter(f"unknown party role {role!r}; one of: {roles}") from None


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Plan name, e.g. 某某证券融出资金债权1号资产支持专项计划"),
    asset_type: str = typer.Option(..., "--asset-type", help="consumer_loan | margin_loan | lease | receivable"),
    party: list[str] = typer.Option([], "--party", help="ROLE=NAME, repeatable (originator=某某证券)"),
    as_json: bool = typer.Option(False, "--json", help='Print {"code": …}'),
) -> None:
    """Initiate (立项) a plan and print its code, unique for life."""
    parties = [_parse_party(p) for p in party]
    with user_errors(as_json):
        plan = plan_service.create_plan(context(), name=name, asset_type=asset_type, parties=parties)
    if as_json:
        print_json({"code": plan.code})
    else:
        console.print(plan.code)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json")) -> None:
    """All plans, by code."""
    with user_errors(as_json):
        plans = plan_service.list_plans(context())
    if as_json:
        print_json({"plans": [_plan_json(p) for p in plans]})
        return
    table(
        "Plans 专项计划",
        ["code", "name", "asset type", "status"],
        [(p.code, p.name, p.asset_type.value, f"{p.status.value} {p.status.label_zh}") for p in plans],
    )


@app.command("show")
def show(code: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One plan: name, asset type, status, parties, status history."""
    with user_errors(as_json):
        plan = plan_service.get_plan(context(), code)
        history = plan_service.status_history(context(), code)
    if as_json:
        body = _plan_json(plan)
        body["history"] = [{"from": f, "to": t, "at": at} for f, t, at in history]
        print_json(body)
        return
    table(
        f"{plan.code} {plan.name}",
        ["field", "value"],
        [
            ("asset type", plan.asset_type.value),
            ("status", f"{plan.status.value} {plan.status.label_zh}"),
            ("created", plan.created_at.isoformat()),
            *[(f"party: {p.role.value}", p.name) for p in plan.parties],
        ],
    )
    table("Status history", ["from", "to", "at"], history)


@app.command("advance")
def advance(
    code: str,
    to: str = typer.Option(..., "--to", help="initiated filed approved issuing revolving amortizing terminated"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Move the plan along its lifecycle; a move the lifecycle forbids exits 2."""
    with user_errors(as_json):
        plan = plan_service.advance_plan(context(), code, to)
    if as_json:
        print_json(_plan_json(plan))
    else:
        console.print(f"{plan.code} is now {plan.status.value} ({plan.status.label_zh})")


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the deal document (docs/DEAL.md explains every field)."""
    from absflow.deal import deal_json_schema

    print_json(deal_json_schema())


@app.command("validate")
def validate(path: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Check a deal document (YAML/JSON): every problem with its path; exit 2 if any."""
    from absflow.services import deals as deal_service

    with user_errors(as_json):
        deal = deal_service.load_deal_file(path)
    if as_json:
        print_json({"valid": True, "name": deal.name, "tranches": [t.id for t in deal.tranches]})
    else:
        console.print(f"ok: {deal.name} ({len(deal.tranches)} tranches, {len(deal.triggers)} triggers)")


@app.command("attach")
def attach(code: str, path: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Attach a deal document to plan CODE as its next version (validated first; logged)."""
    from absflow.services import deals as deal_service

    with user_errors(as_json):
        text = deal_service.read_deal_file(path)
        version = deal_service.attach_deal(context(), code, text)
    if as_json:
        print_json({"code": code, "version": version.version, "sha256": version.sha256, "name": version.name})
    else:
        console.print(f"{code}: deal document version {version.version} ({version.sha256[:12]})")


@app.command("document")
def document(code: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """The current deal document of plan CODE (normalized JSON) and its versions."""
    from absflow.services import deals as deal_service

    with user_errors(as_json):
        current = deal_service.current_deal_version(context(), code)
        versions = deal_service.deal_versions(context(), code)
    if as_json:
        print_json({"code": code, "version": current.version, "sha256": current.sha256,
                    "document": current.document})
        return
    table(f"{code} deal document versions", ["version", "name", "sha256", "attached"],
          [(v, n, s[:12], at.isoformat()) for v, n, s, at in versions])
