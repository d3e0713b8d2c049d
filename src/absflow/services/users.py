"""Users, per-plan grants, sign-in (argon2), web sessions and API keys.

Passwords are kept as argon2id hashes; session cookies and API keys are random tokens of
which only the SHA-256 is stored. Failed sign-ins are recorded and throttled: after
``LOGIN_FAILURE_LIMIT`` failures for one user name, or ``ADDRESS_FAILURE_LIMIT`` from one
address, within ``LOGIN_FAILURE_WINDOW``, sign-in is refused until the window passes.

A resolved session or API key is kept in this process for at most
``PRINCIPAL_CACHE_SECONDS``, so a busy client costs no query per request. Every change to
who may do what made through this module (disable, grant, revoke, sign-out, key
revocation) empties that cache at once; a change made by another process (another server
worker, the CLI) takes effect here within ``PRINCIPAL_CACHE_SECONDS``.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from absflow.access import PLAN_ACTIONS, ROLE_PLAN_CAPABILITIES, Action, Principal, Role
from absflow.domain.issues import AbsflowError, Conflict, Issue, Location, NotFound, ValidationFailed
from absflow.services.access import LOGIN_FAILED, count_recent_failures, record_security_event, subject_ref
from absflow.services.context import Context
from absflow.services.log import append_event
from absflow.store.bookbuilding import InvestorRow
from absflow.store.db import engine_key, transaction
from absflow.store.plans import PlanRow
from absflow.store.users import ApiKeyRow, PlanGrantRow, UserRow, WebSessionRow

HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both paths cost the same time (made on
    first use: an Argon2 hash costs ≈ 0.1 s, which every command paid at start)."""
    return HASHER.hash("absflow-dummy-password")


USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
MIN_PASSWORD_LENGTH = 8
LOGIN_FAILURE_LIMIT = 5
ADDRESS_FAILURE_LIMIT = 20
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
API_KEY_PREFIX = "abf_"
#: How long a resolved session or API key may be reused without asking the database.
PRINCIPAL_CACHE_SECONDS = 2.0
PRINCIPAL_CACHE_SIZE = 10_000

P = ParamSpec("P")
R = TypeVar("R")


class AuthenticationFailed(AbsflowError):
    code = "authentication_failed"
    status = 401


class TooManyAttempts(AbsflowError):
    code = "too_many_attempts"
    status = 429


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    created_at: datetime
    #: plan code -> granted action names, sorted
    grants: dict[str, tuple[str, ...]]
    #: For an investor user: the id of the bookbuilding investor it acts for.
    investor_id: int | None = None


@dataclass(frozen=True)
class ApiKey:
    id: int
    username: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class WebSession:
    principal: Principal
    csrf_token: str
    expires_at: datetime


class PrincipalCache:
    """Resolved sessions / API keys by (database, kind, token digest), each for ``ttl`` seconds."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str, str], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> Any | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if self.clock() - found[0] >= self.ttl:
                del self._entries[key]
                return None
            return found[1]

    def put(self, key: tuple[str, str, str], value: Any, fetched_at: float) -> None:
        with self._lock:
            self._entries[key] = (fetched_at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


PRINCIPALS = PrincipalCache(PRINCIPAL_CACHE_SECONDS, PRINCIPAL_CACHE_SIZE)


def _changes_access(func: Callable[P, R]) -> Callable[P, R]:
    """Empty the principal cache after ``func`` (committed or not), so its change shows at once."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            PRINCIPALS.clear()

    return wrapper


def access_changed() -> None:
    """Forget every resolved session and API key in this process: call after a change to who may do
    what made outside this module (e.g. the grant a plan's initiator gets), once it is committed."""
    PRINCIPALS.clear()


def token_digest(token: str) -> str:
    """SHA-256 hex of a session or API token (what the database keeps)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _to_user(row: UserRow) -> User:
    return User(
        id=row.id, username=row.username, display_name=row.display_name, role=Role(row.role),
        active=row.active, created_at=row.created_at,
        grants={g.plan_code: tuple(sorted(g.actions.split(","))) for g in row.grants}, investor_id=row.investor_id,
    )


def principal_of(row: UserRow) -> Principal:
    """The authorizer's view of a user row (grants loaded)."""
    return Principal(
        user_id=row.id, username=row.username, role=Role(row.role), active=row.active,
        grants={g.plan_code: frozenset(Action(a) for a in g.actions.split(",") if a) for g in row.grants},
        investor_id=row.investor_id,
    )


def _load_user(session: Session, username: str, *, for_update: bool = False) -> UserRow:
    query = select(UserRow).where(UserRow.username == username).options(selectinload(UserRow.grants))
    if for_update:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no user {username!r}")
    return row


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationFailed(
            [Issue("unknown_role", f"unknown role {text!r}; one of: {allowed}", Location(field_path="role"), text)]
        ) from None


def _password_issues(password: str) -> list[Issue]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return [Issue("password_too_short", f"a password needs at least {MIN_PASSWORD_LENGTH} characters",
                      Location(field_path="password"))]
    return []


def create_user(
    ctx: Context, *, username: str, password: str, role: Role | str, display_name: str | None = None
) -> User:
    """Add a user (active, no grants yet). Conflict when the user name is taken."""
    ctx.require("admin", None)
    issues: list[Issue] = []
    if not USERNAME_PATTERN.match(username):
        issues.append(Issue("bad_username", "user names are 2-64 characters: a-z 0-9 _ . - (lower case)",
                            Location(field_path="username"), username))
    issues.extend(_password_issues(password))
    kind: Role | None = role if isinstance(role, Role) else None
    if kind is None:
        try:
            kind = parse_role(str(role))
        except ValidationFailed as exc:
            issues.extend(exc.issues)
    if issues:
        raise ValidationFailed(issues)
    assert kind is not None
    now = ctx.now()
    password_hash = HASHER.hash(password)
    with transaction(ctx.engine) as session:
        exists = session.execute(select(UserRow.id).where(UserRow.username == username)).scalar_one_or_none()
        if exists is not None:
            raise Conflict(f"user {username!r} already exists")
        row = UserRow(
            username=username, display_name=(display_name or username).strip()[:200], role=kind.value,
            password_hash=password_hash, active=True, created_at=now, updated_at=now,
        )
        row.grants = []
        session.add(row)
        session.flush()
        append_event(session, entry_type="user.created", plan_code=None, recorded_at=now,
                     payload={"user": subject_ref(row.id), "role": kind.value})
        return _to_user(row)


def list_users(ctx: Context) -> list[User]:
    ctx.require("admin", None)
    with transaction(ctx.engine) as session:
        rows = session.execute(
            select(UserRow).options(selectinload(UserRow.grants)).order_by(UserRow.username)
        ).scalars().all()
        return [_to_user(r) for r in rows]


def get_user(ctx: Context, username: str) -> User:
    ctx.require("admin", None)
    with transaction(ctx.engine) as session:
        return _to_user(_load_user(session, username))


@_changes_access
def set_active(ctx: Context, username: str, active: bool) -> User:
    """Disable (or enable) a user; disabling also ends its sessions and revokes its API keys."""
    ctx.require("admin", None)
    now = ctx.now()
    with transaction(ctx.engine) as session:
        row = _load_user(session, username, for_update=True)
        if row.active == active:
            return _to_user(row)
        row.active = active
        row.updated_at = now
        if not active:
            session.execute(update(WebSessionRow).where(
                WebSessionRow.user_id == row.id, WebSessionRow.revoked_at.is_(None)).values(revoked_at=now))
            session.execute(update(ApiKeyRow).where(
                ApiKeyRow.user_id == row.id, ApiKeyRow.revoked_at.is_(None)).values(revoked_at=now))
        append_event(session, entry_type="user.enabled" if active else "user.disabled", plan_code=None,
                     recorded_at=now, payload={"user": subject_ref(row.id)})
        return _to_user(row)


def disable_user(ctx: Context, username: str) -> User:
    return set_active(ctx, username, False)


@_changes_access
def grant(ctx: Context, username: str, plan_code: str, actions: Iterable[str] | None = None) -> User:
    """Give ``username`` ``actions`` on ``plan_code`` (default: everything its role may do on a plan).

    Replaces an earlier grant on the same plan. What the role may not do is never granted.
    """
    ctx.require("admin", None)
    issues = []
    wanted: set[Action] = set()
    for name in actions or ():
        try:
            action = Action(name)
        except ValueError:
            action = None
        if action is None or action not in PLAN_ACTIONS:
            issues.append(Issue("unknown_action", f"{name!r} is not a plan action; one of: "
                                + ", ".join(sorted(a.value for a in PLAN_ACTIONS)),
                                Location(field_path="actions"), name))
        else:
            wanted.add(action)
    if issues:
        raise ValidationFailed(issues)
    now = ctx.now()
    with transaction(ctx.engine) as session:
        row = _load_user(session, username, for_update=True)
        if session.execute(select(PlanRow.id).where(PlanRow.code == plan_code)).scalar_one_or_none() is None:
            raise NotFound(f"no plan with code {plan_code!r}")
        capabilities = ROLE_PLAN_CAPABILITIES[Role(row.role)]
        effective = (frozenset(wanted) if wanted else capabilities) & capabilities
        if not effective:
            raise ValidationFailed([Issue("nothing_to_grant", f"role {row.role} may do none of the actions asked",
                                          Location(field_path="actions"))])
        text = ",".join(sorted(a.value for a in effective))
        existing = next((g for g in row.grants if g.plan_code == plan_code), None)
        if existing is not None:
            if existing.actions == text:
                return _to_user(row)
            existing.actions = text
            existing.granted_at = now
        else:
            row.grants.append(PlanGrantRow(plan_code=plan_code, actions=text, granted_at=now))
        session.flush()
        append_event(session, entry_type="access.granted", plan_code=plan_code, recorded_at=now,
                     payload={"user": subject_ref(row.id), "role": row.role, "actions": text.split(",")})
        return _to_user(row)


@_changes_access
def revoke(ctx: Context, username: str, plan_code: str) -> User:
    """Take away every grant ``username`` holds on ``plan_code`` (idempotent)."""
    ctx.require("admin", None)
    now = ctx.now()
    with transaction(ctx.engine) as session:
        row = _load_user(session, username, for_update=True)
        existing = next((g for g in row.grants if g.plan_code == plan_code), None)
        if existing is None:
            return _to_user(row)
        row.grants.remove(existing)
        session.flush()
        append_event(session, entry_type="access.revoked", plan_code=plan_code, recorded_at=now,
                     payload={"user": subject_ref(row.id)})
        return _to_user(row)


def subject_names(ctx: Context, refs: Iterable[str]) -> dict[str, str]:
    """User names behind pseudonymous log ids, for those who may administer users; else empty."""
    if not ctx.can("admin", None):
        return {}
    ids = {int(r.removeprefix("user-")): r for r in refs if r.startswith("user-") and r[5:].isdigit()}
    if not ids:
        return {}
    with transaction(ctx.engine) as session:
        rows = session.execute(select(UserRow.id, UserRow.username).where(UserRow.id.in_(ids))).all()
    return {ids[user_id]: username for user_id, username in rows}


def _login_failed(ctx: Context, reason: str, username: str, remote_addr: str | None) -> None:
    """Record a failed sign-in: the security event (name, address: admins only) and a log entry
    with the user's pseudonymous id if the name is a user's (a mistyped name is never logged)."""
    with transaction(ctx.engine) as session:
        user_id = session.execute(select(UserRow.id).where(UserRow.username == username)).scalar_one_or_none()
    code = "throttled" if reason.startswith("throttled") else reason.replace(" ", "_")
    payload = {"user": None if user_id is None else subject_ref(user_id), "reason": code}
    record_security_event(ctx, LOGIN_FAILED, reason, username=username, remote_addr=remote_addr,
                          log_entry=("user.login_failed", payload))


@_changes_access
def link_investor(ctx: Context, username: str, investor: str | None) -> User:
    """Make investor user ``username`` act for the bookbuilding investor named ``investor`` (None: unlink).

    A linked investor user sees its own bids, allocation line, notices and payments, and no one else's.
    """
    ctx.require("admin", None)
    now = ctx.now()
    with transaction(ctx.engine) as session:
        row = _load_user(session, username, for_update=True)
        if Role(row.role) is not Role.INVESTOR:
            raise ValidationFailed([Issue("not_an_investor", f"{username} has role {row.role}; only investor users "
                                          "act for an investor", Location(field_path="username"), username)])
        investor_id = None
        if investor is not None:
            investor_id = session.execute(select(InvestorRow.id).where(InvestorRow.name == investor)
                                          ).scalar_one_or_none()
            if investor_id is None:
                raise NotFound(f"no investor named {investor!r}")
        if row.investor_id == investor_id:
            return _to_user(row)
        row.investor_id = investor_id
        row.updated_at = now
        session.flush()
        append_event(session, entry_type="access.investor_linked", plan_code=None, recorded_at=now,
                     payload={"user": subject_ref(row.id), "investor": investor})
        return _to_user(row)


def authenticate(ctx: Context, username: str, password: str, *, remote_addr: str | None = None) -> Principal:
    """Check a user name and password; every failure is recorded, and repeated failures throttled.

    Each sign-in is logged: ``user.login`` or ``user.login_failed`` (pseudonymous ids only)."""
    by_user = count_recent_failures(ctx, username=username, window=LOGIN_FAILURE_WINDOW)
    by_address = (count_recent_failures(ctx, remote_addr=remote_addr, window=LOGIN_FAILURE_WINDOW)
                  if remote_addr else 0)
    if by_user >= LOGIN_FAILURE_LIMIT or by_address >= ADDRESS_FAILURE_LIMIT:
        _login_failed(ctx, "throttled: too many failed sign-ins", username, remote_addr)
        raise TooManyAttempts("too many failed sign-ins; try again later")
    with transaction(ctx.engine) as session:
        row = session.execute(
            select(UserRow).where(UserRow.username == username).options(selectinload(UserRow.grants))
        ).scalar_one_or_none()
        reason = None
        try:
            HASHER.verify(row.password_hash if row is not None else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            reason = "wrong password"
        if row is None:
            reason = "unknown user"
        elif row.active is False and reason is None:
            reason = "user disabled"
        if reason is None and row is not None:
            if HASHER.check_needs_rehash(row.password_hash):
                row.password_hash = HASHER.hash(password)
            principal = principal_of(row)
            append_event(session, entry_type="user.login", plan_code=None, recorded_at=ctx.now(),
                         payload={"user": subject_ref(row.id), "method": "password"})
    if reason is not None:
        _login_failed(ctx, reason, username, remote_addr)
        raise AuthenticationFailed("wrong user name or password")
    return principal


def start_session(ctx: Context, principal: Principal) -> tuple[str, WebSession]:
    """A new browser session; returns the cookie token (shown once) and the session."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = ctx.now()
    with transaction(ctx.engine) as session:
        session.add(WebSessionRow(token_hash=token_digest(token), user_id=principal.user_id, csrf_token=csrf,
                                  created_at=now, expires_at=now + SESSION_LIFETIME))
    return token, WebSession(principal=principal, csrf_token=csrf, expires_at=now + SESSION_LIFETIME)


def _principal_key(ctx: Context, kind: str, token: str) -> tuple[str, str, str]:
    return engine_key(ctx.engine), kind, token_digest(token)


def cached_session(ctx: Context, token: str) -> WebSession | None:
    """The live session for a cookie token if this process resolved it within
    ``PRINCIPAL_CACHE_SECONDS``; None otherwise (then ask ``resolve_session``). No I/O."""
    found: WebSession | None = PRINCIPALS.get(_principal_key(ctx, "session", token))
    return found if found is not None and found.expires_at > ctx.now() else None


def cached_api_key(ctx: Context, token: str) -> Principal | None:
    """The user behind a bearer token if this process resolved it within ``PRINCIPAL_CACHE_SECONDS``;
    None otherwise (then ask ``resolve_api_key``). No I/O."""
    found: Principal | None = PRINCIPALS.get(_principal_key(ctx, "api_key", token))
    return found


def resolve_session(ctx: Context, token: str) -> WebSession | None:
    """The live session for a cookie token, with the user's current grants; None when absent or over.

    Served from ``PRINCIPALS`` for up to ``PRINCIPAL_CACHE_SECONDS`` (expiry is still checked)."""
    cached = cached_session(ctx, token)
    if cached is not None:
        return cached
    key = _principal_key(ctx, "session", token)
    now = ctx.now()
    fetched_at = PRINCIPALS.clock()
    with transaction(ctx.engine) as session:
        found = session.execute(
            select(WebSessionRow, UserRow).join(UserRow, UserRow.id == WebSessionRow.user_id)
            .where(WebSessionRow.token_hash == key[2])
            .options(selectinload(UserRow.grants))
        ).one_or_none()
        if found is None:
            return None
        row, user = found
        if row.revoked_at is not None or _aware(row.expires_at) <= now or not user.active:
            return None
        resolved = WebSession(principal=principal_of(user), csrf_token=row.csrf_token,
                              expires_at=_aware(row.expires_at))
    PRINCIPALS.put(key, resolved, fetched_at)
    return resolved


@_changes_access
def end_session(ctx: Context, token: str) -> None:
    with transaction(ctx.engine) as session:
        session.execute(update(WebSessionRow).where(
            WebSessionRow.token_hash == token_digest(token), WebSessionRow.revoked_at.is_(None)
        ).values(revoked_at=ctx.now()))


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone columns; they were written as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _may_manage_keys_of(ctx: Context, username: str) -> None:
    actor = ctx.actor
    if isinstance(actor, Principal) and actor.username == username:
        return
    ctx.require("admin", None)


def create_api_key(ctx: Context, username: str, name: str) -> tuple[str, ApiKey]:
    """A new bearer token for ``username`` (an admin, or the user itself); the token is shown once."""
    _may_manage_keys_of(ctx, username)
    if not name.strip():
        raise ValidationFailed([Issue("required", "an API key needs a name", Location(field_path="name"))])
    token = API_KEY_PREFIX + secrets.token_urlsafe(32)
    now = ctx.now()
    with transaction(ctx.engine) as session:
        user = _load_user(session, username)
        if not user.active:
            raise Conflict(f"user {username!r} is disabled")
        row = ApiKeyRow(user_id=user.id, name=name.strip()[:100], prefix=token[:12], token_hash=token_digest(token),
                        created_at=now)
        session.add(row)
        session.flush()
        append_event(session, entry_type="apikey.created", plan_code=None, recorded_at=now,
                     payload={"user": subject_ref(row.user_id), "key_id": row.id, "prefix": row.prefix})
        return token, ApiKey(row.id, username, row.name, row.prefix, row.created_at, None)


def list_api_keys(ctx: Context, username: str) -> list[ApiKey]:
    _may_manage_keys_of(ctx, username)
    with transaction(ctx.engine) as session:
        user = _load_user(session, username)
        rows = session.execute(select(ApiKeyRow).where(ApiKeyRow.user_id == user.id).order_by(ApiKeyRow.id)).scalars()
        return [ApiKey(r.id, username, r.name, r.prefix, r.created_at, r.revoked_at) for r in rows]


@_changes_access
def revoke_api_key(ctx: Context, username: str, key_id: int) -> ApiKey:
    """Revoke one key of ``username`` (idempotent)."""
    _may_manage_keys_of(ctx, username)
    now = ctx.now()
    with transaction(ctx.engine) as session:
        user = _load_user(session, username)
        row = session.execute(
            select(ApiKeyRow).where(ApiKeyRow.id == key_id, ApiKeyRow.user_id == user.id)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no API key {key_id} for user {username!r}")
        if row.revoked_at is None:
            row.revoked_at = now
            append_event(session, entry_type="apikey.revoked", plan_code=None, recorded_at=now,
                         payload={"user": subject_ref(row.user_id), "key_id": key_id})
        return ApiKey(row.id, username, row.name, row.prefix, row.created_at, row.revoked_at)


def resolve_api_key(ctx: Context, token: str) -> Principal | None:
    """The user behind a bearer token; None when unknown, revoked, or the user is disabled.

    Served from ``PRINCIPALS`` for up to ``PRINCIPAL_CACHE_SECONDS``."""
    if not token.startswith(API_KEY_PREFIX):
        return None
    cached = cached_api_key(ctx, token)
    if cached is not None:
        return cached
    key = _principal_key(ctx, "api_key", token)
    fetched_at = PRINCIPALS.clock()
    with transaction(ctx.engine) as session:
        found = session.execute(
            select(ApiKeyRow, UserRow).join(UserRow, UserRow.id == ApiKeyRow.user_id)
            .where(ApiKeyRow.token_hash == key[2]).options(selectinload(UserRow.grants))
        ).one_or_none()
        if found is None:
            return None
        api_key, user = found
        if api_key.revoked_at is not None or not user.active:
            return None
        resolved = principal_of(user)
    PRINCIPALS.put(key, resolved, fetched_at)
    return resolved


def set_password(ctx: Context, username: str, password: str) -> User:
    """Replace a user's password (admin)."""
    ctx.require("admin", None)
    issues = _password_issues(password)
    if issues:
        raise ValidationFailed(issues)
    now = ctx.now()
    with transaction(ctx.engine) as session:
        row = _load_user(session, username, for_update=True)
        row.password_hash = HASHER.hash(password)
        row.updated_at = now
        append_event(session, entry_type="user.password_changed", plan_code=None, recorded_at=now,
                     payload={"user": subject_ref(row.id)})
        return _to_user(row)


def ensure_demo_users(ctx: Context, plan_code: str) -> list[tuple[str, Role, str]]:
    """One user per role named ``demo-<role>`` with a fresh random password, granted ``plan_code``.

    Returns (username, role, password) for printing; passwords are made anew on every run.
    """
    ctx.require("admin", None)
    out = []
    for role in Role:
        username = "demo-" + role.value.replace("_", "-")
        password = secrets.token_urlsafe(9)
        try:
            create_user(ctx, username=username, password=password, role=role)
        except Conflict:
            set_password(ctx, username, password)
            set_active(ctx, username, True)
        if role not in (Role.REGULATOR, Role.ADMIN):
            grant(ctx, username, plan_code)
        out.append((username, role, password))
    return out
