"""``/api/v1/pools`` (list, set, delete) and ``/api/v1/audit`` (who did what, newest first); both
lists are paged (``limit``, ``offset``; :class:`~weir.server.paging.Page`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from weir.control import pools as pool_actions
from weir.control import reports
from weir.server.deps import MAX_ID, Ctx, State, check_name
from weir.server.paging import DEFAULT_LIMIT, Limit, Offset, Page
from weir.server.schemas import AuditEntry, AuditPage, ErrorBody, PoolOut, PoolRequest
from weir.server.state import ServerState

router = APIRouter()
PoolName = Annotated[str, Path(max_length=200, description="a pool name")]
#: Free text in a query: no control characters (PostgreSQL refuses NUL in a string).
_TEXT = r"^[^\x00-\x1f]*$"


@router.get("/pools", response_model=Page[PoolOut], tags=["pools"], summary="List pools")
def list_pools(ctx: Ctx, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0) -> Page[PoolOut]:
    """A page of the pools, by name, with their slots, the slots in use (task runs queued or
    running in them) and free."""
    # A handful of rows, each counted against the task runs: the store reads them all (its
    # pools() takes no limit yet), and the page is cut here.
    found = [PoolOut.of(p) for p in pool_actions.list_pools(ctx)]
    return Page[PoolOut].of(found[offset : offset + limit], total=len(found), limit=limit, offset=offset)


@router.put(
    "/pools/{name}",
    response_model=PoolOut,
    tags=["pools"],
    summary="Create or resize a pool",
    responses={422: {"model": ErrorBody, "description": "a bad pool name or slot count"}},
)
def set_pool(name: PoolName, body: PoolRequest, ctx: Ctx) -> PoolOut:
    """Create the pool ``name`` or change its slots (0 holds every task in it until raised again).

    A task with ``pool=NAME`` runs only while the pool has a free slot, across all runs and all
    schedulers; a task that waits says so in its task run's ``note``.
    """
    return PoolOut.of(pool_actions.set_pool(ctx, name, body.slots, body.description))


@router.delete(
    "/pools/{name}",
    status_code=204,
    response_class=Response,
    tags=["pools"],
    summary="Delete a pool",
    responses={404: {"model": ErrorBody, "description": "no such pool"}},
)
def delete_pool(name: PoolName, ctx: Ctx) -> Response:
    """Forget a pool; the tasks that use it then wait (their pool does not exist)."""
    pool_actions.delete_pool(ctx, check_name(name, "pool"))
    return Response(status_code=204)


def audit_page(
    state: ServerState,
    *,
    action: str | None = None,
    target: str | None = None,
    actor: str | None = None,
    before: int | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> AuditPage:
    """A page of audit rows, newest first, as :func:`weir.control.reports.audit_page` has them."""
    with state.store.read() as conn:
        found = reports.audit_page(
            conn,
            action=action or None,
            target=target or None,
            actor=actor or None,
            before=before,
            limit=limit + 1,  # one more than asked: whether a next page exists, whatever the cursor
            offset=offset,
        )
    more = len(found.items) > limit
    items = [AuditEntry.of(r) for r in found.items[:limit]]
    return AuditPage(
        items=items,
        total=found.total,
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
        next_before=items[-1].id if more else None,
    )


@router.get("/audit", response_model=AuditPage, tags=["audit"], summary="List the audit log")
def list_audit(
    state: State,
    action: Annotated[
        str | None, Query(max_length=50, pattern=r"^[a-z_]*$", description="trigger, cancel, set_pool, ...")
    ] = None,
    target: Annotated[
        str | None,
        Query(max_length=300, pattern=_TEXT, description="exactly, e.g. `run 12`, `flow etl`, `pool db`"),
    ] = None,
    actor: Annotated[str | None, Query(max_length=200, pattern=_TEXT, description="who acted")] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only rows with a smaller id")] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> AuditPage:
    """Every action taken (trigger, cancel, retry, clear, resume, backfill, pause, unpause,
    register, send event, set and delete pools, ...): who, through what (cli, api, ui, scheduler,
    python), on what, when; newest first. Page with ``offset=<next_offset>``, or
    ``before=<next_before>``."""
    return audit_page(
        state, action=action, target=target, actor=actor, before=before, limit=limit, offset=offset
    )
