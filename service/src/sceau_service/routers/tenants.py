"""The key registry over HTTP: ``/v1/tenants/{tenant}/...`` (docs/API.md "Key registry").

Private routes act on the token's own tenant only: another tenant's name in the path answers
404 ``not_found``, as a tenant that does not exist.  Scopes: ``read`` to see the tenant's
keys (with custody) and policy; ``keys:admin`` to create, rotate and revoke keys and set the
policy.  The key history is public.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from sceau.errors import NotFoundError, ValidationError
from sceau.timefmt import format_time, parse_time
from sceau_keys.lifecycle import RotationPolicy
from sceau_service.auth import Principal
from sceau_service.registry import KeyChange
from sceau_service.schemas import ErrorPublic
from sceau_service.state import State, TenantCaller
from sceau_service.store import KeyRow, TenantRow

router = APIRouter(prefix="/v1/tenants/{tenant}", tags=["key registry"])

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorPublic} for code in (400, 401, 403, 404, 409, 422, 503)}
_STRICT = ConfigDict(strict=True, extra="forbid")

KeyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]
PathKeyId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{43}$",
                                description="key id (RFC 7638 thumbprint)")]
Timestamp = Annotated[str, StringConstraints(max_length=20)]


# -- bodies ------------------------------------------------------------------------------


class KeyPublic(BaseModel):
    """One key of the tenant, as its owner sees it (public half and custody label only)."""

    kid: str
    role: Literal["signing", "root"]
    status: Literal["pending", "active", "retired", "revoked"]
    custody: str
    created: str
    not_before: str | None
    not_after: str | None
    compromised_since: str | None


class PolicyPublic(BaseModel):
    """A scheduled rotation policy."""

    every_days: float
    overlap_days: float
    next_rotation: str | None = Field(
        default=None, description="when the active key is next due (UTC)")


class KeyListPublic(BaseModel):
    """Every key of the tenant (never deleted), oldest first, and its rotation policy."""

    tenant: str
    keys: list[KeyPublic]
    policy: PolicyPublic | None


class KeyCreate(BaseModel):
    """``POST /keys``: a new key, published as pending, or made active at once."""

    model_config = _STRICT
    activate: bool = False


class RotationCreate(BaseModel):
    """``POST /keys/rotate``: activate the pending key ``to``; else the oldest pending key;
    else (or with ``new``) a key generated now."""

    model_config = _STRICT
    to: KeyId | None = None
    new: bool = False


class RevocationCreate(BaseModel):
    """``POST /keys/{keyid}/revoke``: from ``compromised_since`` on (RFC 3339 UTC, whole
    seconds; not in the future) its seals fail; null: all its seals fail."""

    model_config = _STRICT
    compromised_since: Timestamp | None


class PolicyCreate(BaseModel):
    """``PUT /rotation-policy``: rotate every ``every_days``; each key's window stays open
    ``overlap_days`` past its successor's start."""

    model_config = _STRICT
    every_days: Annotated[int, Field(ge=1, le=3650)]
    overlap_days: Annotated[int, Field(ge=0, le=3649)] = 0


class KeyChangePublic(BaseModel):
    """What a registry change did."""

    tenant: str
    version: int | None = Field(description="the key statement recording the change")
    kid: str = Field(description="the key the operation was about")
    outgoing: str | None = Field(description="active signing key before")
    incoming: str | None = Field(description="active signing key after")
    keys: list[KeyPublic]


# -- helpers -------------------------------------------------------------------------------


def _t(when: datetime | None) -> str | None:
    return None if when is None else format_time(when)


def _key(row: KeyRow) -> KeyPublic:
    return KeyPublic(kid=row.keyid, role="root" if row.role == "root" else "signing",
                     status=row.status.value, custody=row.custody,
                     created=format_time(row.created_at), not_before=_t(row.not_before),
                     not_after=_t(row.not_after), compromised_since=_t(row.compromised_since))


def _change(change: KeyChange) -> KeyChangePublic:
    return KeyChangePublic(tenant=change.tenant, version=change.version, kid=change.keyid,
                           outgoing=change.outgoing, incoming=change.incoming,
                           keys=[_key(k) for k in change.keys])


def _policy(policy: RotationPolicy, active: KeyRow | None) -> PolicyPublic:
    due = None
    if active is not None and active.not_before is not None:
        due = format_time(active.not_before + policy.every)
    return PolicyPublic(every_days=policy.every.total_seconds() / 86400,
                        overlap_days=policy.overlap.total_seconds() / 86400,
                        next_rotation=due)


def _tenant(state: State, caller: Principal) -> TenantRow:
    return TenantRow(caller.tenant_id, caller.tenant, caller.tenant)


# -- private routes ------------------------------------------------------------------------


@router.get("/keys", response_model=KeyListPublic, responses=_ERRORS,
            summary="The tenant's keys with custody and status (scope read)")
async def list_keys(caller: TenantCaller, state: State) -> KeyListPublic:
    """Every key of the caller's tenant (signing and root), never deleted."""
    caller.require("read")
    tenant = _tenant(state, caller)
    rows = await run_in_threadpool(state.registry.keys, tenant)
    policy = await run_in_threadpool(state.registry.policy, tenant)
    active = next((r for r in rows if r.role == "signing" and r.status.value == "active"),
                  None)
    return KeyListPublic(tenant=caller.tenant, keys=[_key(r) for r in rows],
                         policy=None if policy is None else _policy(policy, active))


@router.post("/keys", status_code=201, response_model=KeyChangePublic, responses=_ERRORS,
             summary="Create a key (scope keys:admin)")
async def create_key(body: KeyCreate, caller: TenantCaller, state: State) -> KeyChangePublic:
    """Generate a key in custody: pending (published ahead of use), or active at once (a
    rotation to it).  Its id is its thumbprint; callers never choose one."""
    caller.require("keys:admin")
    tenant = _tenant(state, caller)
    if body.activate:
        change = await run_in_threadpool(lambda: state.registry.rotate(tenant, new=True))
    else:
        change = await run_in_threadpool(state.registry.create_pending_key, tenant)
    return _change(change)


@router.post("/keys/rotate", response_model=KeyChangePublic, responses=_ERRORS,
             summary="Rotate the active signing key (scope keys:admin)")
async def rotate(body: RotationCreate, caller: TenantCaller, state: State) -> KeyChangePublic:
    """Retire the active key and activate another in one transaction, recorded in a key
    statement signed by both (and the root key where the change needs it)."""
    caller.require("keys:admin")
    tenant = _tenant(state, caller)
    change = await run_in_threadpool(
        lambda: state.registry.rotate(tenant, to=body.to, new=body.new))
    return _change(change)


@router.post("/keys/{keyid}/revoke", response_model=KeyChangePublic, responses=_ERRORS,
             summary="Revoke a signing key (scope keys:admin)")
async def revoke(keyid: PathKeyId, body: RevocationCreate, caller: TenantCaller,
                 state: State) -> KeyChangePublic:
    """Revoke one of the tenant's signing keys; revoking the active key activates a new
    key in the same transaction."""
    caller.require("keys:admin")
    since = None
    if body.compromised_since is not None:
        try:
            since = parse_time(body.compromised_since)
        except ValueError as exc:
            raise ValidationError(f"compromised_since: {exc}") from None
    tenant = _tenant(state, caller)
    change = await run_in_threadpool(state.registry.revoke, tenant, keyid, since)
    return _change(change)


@router.get("/rotation-policy", response_model=PolicyPublic, responses=_ERRORS,
            summary="The scheduled rotation policy (scope read)")
async def get_policy(caller: TenantCaller, state: State) -> PolicyPublic:
    """The tenant's policy; 404 ``not_found`` when it has none."""
    caller.require("read")
    tenant = _tenant(state, caller)
    policy = await run_in_threadpool(state.registry.policy, tenant)
    if policy is None:
        raise NotFoundError("this tenant has no rotation policy")
    active = await run_in_threadpool(state.store.active_key, tenant.id)
    return _policy(policy, active)


@router.put("/rotation-policy", response_model=PolicyPublic, responses=_ERRORS,
            summary="Set the scheduled rotation policy (scope keys:admin)")
async def put_policy(body: PolicyCreate, caller: TenantCaller, state: State) -> PolicyPublic:
    """Rotate every ``every_days`` days (the service's scheduler, or ``sceau-keys
    rotate-due``); keys made from now on get windows of ``every_days + overlap_days``."""
    caller.require("keys:admin")
    if body.overlap_days >= body.every_days:
        raise ValidationError("overlap_days must be less than every_days")
    policy = RotationPolicy.days(body.every_days, body.overlap_days)
    tenant = _tenant(state, caller)
    await run_in_threadpool(state.registry.set_policy, tenant, policy)
    active = await run_in_threadpool(state.store.active_key, tenant.id)
    return _policy(policy, active)


# -- public --------------------------------------------------------------------------------

HISTORY_MEDIA_TYPE = "application/json"


@router.get("/keys/history", response_class=Response, summary="The signed key history",
            responses={200: {"content": {HISTORY_MEDIA_TYPE: {}}},
                       304: {"description": "not modified (If-None-Match)"},
                       404: {"model": ErrorPublic}})
async def history(tenant: Annotated[str, Path(max_length=63)], state: State,
                  if_none_match: Annotated[str | None, Header(max_length=256)] = None
                  ) -> Response:
    """The tenant's key statements from version 1 and a head signed by the active key
    (``sceau.keyhistory``; verify with ``sceau.keyhistory.verify_key_history``).  Public
    keys only."""
    try:
        row = await run_in_threadpool(state.store.tenant_by_slug, tenant)
    except NotFoundError:
        raise NotFoundError("no such tenant") from None
    doc = await state.history.get(row.id)
    headers = {"Cache-Control": "public, max-age=60", "ETag": doc.etag,
               "Expires": doc.expires.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    if if_none_match is not None and doc.etag in (v.strip() for v in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(doc.body, media_type=HISTORY_MEDIA_TYPE, headers=headers)
