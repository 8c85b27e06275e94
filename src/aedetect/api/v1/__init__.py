"""The v1 (TensorMSA-compatible) API: thin routes over the services, one router per resource,
all under ``/api/v1/type``, answering in the double-encoded v1 envelope."""

from fastapi import APIRouter

from aedetect.api.v1 import data, networks, predict, runs, workflow

V1_ROOT = "/api/v1/type"


def v1_router() -> APIRouter:
    """Every v1 route, mounted at :data:`V1_ROOT`."""
    router = APIRouter(prefix=V1_ROOT)
    for module in (networks, workflow, data, runs, predict):
        router.include_router(module.router)
    return router


__all__ = ["V1_ROOT", "v1_router"]
