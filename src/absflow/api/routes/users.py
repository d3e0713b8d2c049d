"""Users, grants and API keys: the same service functions as `absflow user …`."""

from __future__ import annotations

from fastapi import APIRouter, status

from absflow.api.deps import ActorCtx, PrincipalDep
from absflow.api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    GrantUpdate,
    InvestorLink,
    MePublic,
    UserCreate,
    UserPublic,
    UsersPublic,
    UserUpdate,
)
from absflow.services import users as user_service

router = APIRouter(tags=["users"])


@router.get("/me", response_model=MePublic, summary="Who the caller is, with its grants")
def me(principal: PrincipalDep) -> MePublic:
    return MePublic(username=principal.username, role=principal.role.value,
                    grants={c: sorted(a.value for a in acts) for c, acts in principal.grants.items()})


@router.get("/users", response_model=UsersPublic, summary="Every user (user list; admin)")
def list_users(ctx: ActorCtx) -> UsersPublic:
    return UsersPublic(users=[UserPublic.of(u) for u in user_service.list_users(ctx)])


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED, summary="Add a user (user add)")
def add_user(ctx: ActorCtx, body: UserCreate) -> UserPublic:
    user = user_service.create_user(ctx, username=body.username, password=body.password, role=body.role,
                                    display_name=body.display_name)
    return UserPublic.of(user)


@router.get("/users/{username}", response_model=UserPublic)
def show_user(ctx: ActorCtx, username: str) -> UserPublic:
    return UserPublic.of(user_service.get_user(ctx, username))


@router.patch("/users/{username}", response_model=UserPublic, summary="Disable or enable (user disable/enable)")
def update_user(ctx: ActorCtx, username: str, body: UserUpdate) -> UserPublic:
    return UserPublic.of(user_service.set_active(ctx, username, body.active))


@router.put("/users/{username}/grants/{plan_code}", response_model=UserPublic, summary="Grant plan access")
def grant(ctx: ActorCtx, username: str, plan_code: str, body: GrantUpdate) -> UserPublic:
    return UserPublic.of(user_service.grant(ctx, username, plan_code, body.actions))


@router.delete("/users/{username}/grants/{plan_code}", response_model=UserPublic, summary="Revoke plan access")
def revoke(ctx: ActorCtx, username: str, plan_code: str) -> UserPublic:
    return UserPublic.of(user_service.revoke(ctx, username, plan_code))


@router.put("/users/{username}/investor", response_model=UserPublic,
            summary="Link an investor user to its bookbuilding investor, or unlink with null (user link-investor)")
def link_investor(ctx: ActorCtx, username: str, body: InvestorLink) -> UserPublic:
    return UserPublic.of(user_service.link_investor(ctx, username, body.investor))


@router.get("/users/{username}/api-keys", response_model=list[ApiKeyPublic])
def list_keys(ctx: ActorCtx, username: str) -> list[ApiKeyPublic]:
    return [ApiKeyPublic.of(k) for k in user_service.list_api_keys(ctx, username)]


@router.post("/users/{username}/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED,
             summary="Create an API bearer token (shown once)")
def create_key(ctx: ActorCtx, username: str, body: ApiKeyCreate) -> ApiKeyCreated:
    token, key = user_service.create_api_key(ctx, username, body.name)
    return ApiKeyCreated(**ApiKeyPublic.of(key).model_dump(), token=token)


@router.delete("/users/{username}/api-keys/{key_id}", response_model=ApiKeyPublic, summary="Revoke an API key")
def revoke_key(ctx: ActorCtx, username: str, key_id: int) -> ApiKeyPublic:
    return ApiKeyPublic.of(user_service.revoke_api_key(ctx, username, key_id))
