"""`absflow user …`: users, per-plan grants and API keys (the local operator acts as admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from absflow.access import Role
from absflow.cli.common import context
from absflow.cli.lazy import service
from absflow.cli.output import console, print_json, table, user_errors

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import users as user_service
else:
    user_service = service("users")

app = typer.Typer(help="Users: add, list, disable, grant/revoke plan access, API keys.", no_args_is_help=True)

ROLES_HELP = " | ".join(r.value for r in Role)


def _user_json(user: user_service.User) -> dict[str, object]:
    return {
        "username": user.username, "display_name": user.display_name, "role": user.role.value,
        "active": user.active, "created_at": user.created_at.isoformat(),
        "grants": {code: list(actions) for code, actions in user.grants.items()}, "investor_id": user.investor_id,
    }


@app.command("add")
def add(
    username: str,
    role: str = typer.Option(..., "--role", help=ROLES_HELP),
    password: str = typer.Option(..., "--password", prompt=True, hide_input=True, confirmation_prompt=True,
                                 help="At least 8 characters (asked for when not given)"),
    display_name: str = typer.Option(None, "--name", help="Display name, e.g. 张三"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add a user; it sees no plan until granted one (regulator and admin see all)."""
    with user_errors(as_json):
        user = user_service.create_user(context(), username=username, password=password, role=role,
                                        display_name=display_name)
    if as_json:
        print_json(_user_json(user))
    else:
        console.print(f"user {user.username} ({user.role.value}) added")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every user with role, state and grants."""
    with user_errors(as_json):
        users = user_service.list_users(context())
    if as_json:
        print_json({"users": [_user_json(u) for u in users]})
        return
    table("Users 用户", ["username", "name", "role", "active", "grants"],
          [(u.username, u.display_name, u.role.value, "yes" if u.active else "no",
            "; ".join(f"{c}: {','.join(a)}" for c, a in u.grants.items())) for u in users])


@app.command("disable")
def disable(username: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Disable a user: sign-in refused, sessions ended, API keys revoked."""
    with user_errors(as_json):
        user = user_service.disable_user(context(), username)
    if as_json:
        print_json(_user_json(user))
    else:
        console.print(f"user {user.username} disabled")


@app.command("enable")
def enable(username: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Enable a disabled user again (API keys stay revoked)."""
    with user_errors(as_json):
        user = user_service.set_active(context(), username, True)
    if as_json:
        print_json(_user_json(user))
    else:
        console.print(f"user {user.username} enabled")


@app.command("grant")
def grant(
    username: str,
    plan_code: str,
    action: list[str] = typer.Option([], "--action", help="view | edit | download | approve (repeatable; "
                                     "default: all the role allows)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Grant a user access to one plan."""
    with user_errors(as_json):
        user = user_service.grant(context(), username, plan_code, action or None)
    if as_json:
        print_json(_user_json(user))
    else:
        console.print(f"{user.username} on {plan_code}: {', '.join(user.grants.get(plan_code, ()))}")


@app.command("revoke")
def revoke(username: str, plan_code: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Remove a user's access to one plan."""
    with user_errors(as_json):
        user = user_service.revoke(context(), username, plan_code)
    if as_json:
        print_json(_user_json(user))
    else:
        console.print(f"{user.username} no longer has access to {plan_code}")


@app.command("link-investor")
def link_investor(
    username: str,
    investor: str | None = typer.Argument(None, help="Registered investor name (book investors); omit to unlink"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Make an investor user act for its bookbuilding investor: it then sees that investor's bids only."""
    with user_errors(as_json):
        user = user_service.link_investor(context(), username, investor)
    if as_json:
        print_json({**_user_json(user), "investor": investor})
    else:
        console.print(f"{user.username} acts for {investor}" if investor else f"{user.username} is not linked")


@app.command("key-add")
def key_add(username: str, name: str = typer.Option("cli", "--name"), as_json: bool = typer.Option(False, "--json")
            ) -> None:
    """Create an API bearer token for a user; it is printed once and cannot be shown again."""
    with user_errors(as_json):
        token, key = user_service.create_api_key(context(), username, name)
    if as_json:
        print_json({"id": key.id, "name": key.name, "token": token})
    else:
        console.print(f"key {key.id} ({key.name}): {token}")


@app.command("keys")
def keys(username: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A user's API keys (prefix only)."""
    with user_errors(as_json):
        found = user_service.list_api_keys(context(), username)
    rows = [{"id": k.id, "name": k.name, "prefix": k.prefix, "created_at": k.created_at.isoformat(),
             "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None} for k in found]
    if as_json:
        print_json({"keys": rows})
    else:
        table(f"API keys of {username}", ["id", "name", "prefix", "created", "revoked"],
              [tuple(r.values()) for r in rows])


@app.command("key-revoke")
def key_revoke(username: str, key_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """Revoke one API key."""
    with user_errors(as_json):
        key = user_service.revoke_api_key(context(), username, key_id)
    if as_json:
        print_json({"id": key.id, "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None})
    else:
        console.print(f"key {key.id} revoked")
