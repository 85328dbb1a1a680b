"""API keys in the X-API-Key header and the three roles: planner, council (own LA when bound,
always suppressed) and admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from service.store import Store

__all__ = [
    "PLANNER_ONLY",
    "Principal",
    "get_principal",
    "require_planner",
    "require_reader",
    "require_store",
]

# the OpenAPI answer of every route for planner and admin keys only (`require_planner`)
PLANNER_ONLY: dict[int | str, dict[str, Any]] = {
    403: {"description": "A council key: this needs a planner or admin key"}
}

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="A key made with `rcc keys create --role planner|council|admin`",
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, role and (council keys) the LA it is bound to."""

    key_id: str
    role: str
    la: str | None = None

    @property
    def suppressed(self) -> bool:
        """Council views always apply small-number suppression."""
        return self.role == "council"


async def require_store(request: Request) -> Store:
    store: Store = request.app.state.service.store
    return store


async def get_principal(
    request: Request, key: Annotated[str | None, Security(api_key_header)] = None
) -> Principal:
    """The caller of a request; 401 without a live key. Async: a key lookup is a cache hit
    or one indexed query, cheaper than a hop to the thread pool. (The store comes from the
    request, not from a dependency: each dependency costs every request its resolution.)"""
    store: Store = request.app.state.service.store
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "APIKey"},
        )
    found = store.key_by_secret(key)
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked API key",
            headers={"WWW-Authenticate": "APIKey"},
        )
    return Principal(found.id, found.role, found.la)


async def require_planner(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """Planners (and admins) create datasets and scenarios and read child-level results."""
    if principal.role not in ("planner", "admin"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"a {principal.role} key cannot do this: it needs a planner key",
        )
    return principal


# Any live key may read reference data, scenario status, indicators and maps: a reader is
# any caller (the same dependency, so overriding get_principal overrides readers too).
require_reader = get_principal
