"""v1 predictions (``service/state/predict/...``) from a version's serving model."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from aedetect.api.deps import ScoringDep
from aedetect.api.v1.envelope import V1Router
from aedetect.api.v1.schemas import Predict
from aedetect.errors import InvalidInput, NotFound, quoted
from aedetect.services.scoring import ScoringService

router = V1Router(tags=["v1 predict"])

PREDICT = "/service/state/predict/type/{kind}/nnid/{nnid}/ver/{ver}/"
KINDS = ("anomaly", "autoencoder")
OUTPUTS = ("encoder", "decoder")
INLINE_ROWS = 64
"""Requests with up to this many rows are scored on the event loop (about a millisecond of work,
less than handing them to a worker thread); larger ones go to the thread pool so they do not hold
up other requests."""


@router.post(
    PREDICT,
    summary="anomaly: similarity of input and reconstruction (higher = more normal); "
    "autoencoder: the code (encoder) or reconstruction (decoder) of each row",
)
async def predict(kind: str, nnid: str, ver: str, body: Predict, scoring: ScoringDep) -> Any:
    rows = [body.input_data] if isinstance(body.input_data, dict) else body.input_data
    if len(rows) <= INLINE_ROWS:
        return _predict(kind, nnid, ver, body, rows, scoring)
    return await run_in_threadpool(_predict, kind, nnid, ver, body, rows, scoring)


def _predict(kind: str, nnid: str, ver: str, body: Predict, rows: list[Any], scoring: ScoringService) -> Any:
    single = isinstance(body.input_data, dict)
    if kind == "anomaly":
        values = scoring.similarity(nnid, ver, rows)
        return values[0] if single else values
    if kind != "autoencoder":
        raise NotFound(f"predict type {quoted(kind)} does not exist; use one of: {', '.join(KINDS)}")
    if body.type == "encoder":
        return scoring.encode(nnid, ver, rows)
    if body.type == "decoder":
        return scoring.reconstruct(nnid, ver, rows)
    raise InvalidInput(f"type must be one of {', '.join(OUTPUTS)}, got {quoted(body.type)}", field="type")
