"""The native API under ``/api/v2``: plain JSON, one router per resource (datasets, models,
versions and aliases, scoring, monitoring, jobs), thin routes over the same services as v1, errors as RFC 9457
problem details."""

from fastapi import APIRouter

from aedetect.api.v2 import datasets, jobs, models, monitoring, scoring, versions
from aedetect.api.v2.views import V2_ROOT


def v2_router() -> APIRouter:
    """Every native route, mounted at :data:`V2_ROOT`."""
    router = APIRouter(prefix=V2_ROOT)
    for module in (datasets, models, versions, scoring, monitoring, jobs):
        router.include_router(module.router)
    return router


__all__ = ["V2_ROOT", "v2_router"]
