"""v1 predictions (``service/state/predict/...``) from a version's serving model.

A small request (up to :data:`INLINE_ROWS` rows in at most :data:`INLINE_BYTES`) is parsed on the
event loop and scored in one worker thread of the shared pool: the serving version's registry read
(and, on a cold model cache, the model's load, possibly from S3) must never hold up the event loop.
A larger body is parsed, and a request of more rows also checked and scored, in the bounded scoring
pool, and its answer streamed out batch by batch (:mod:`aedetect.api.streaming`), so it never holds
up other requests nor its whole answer in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

from aedetect.api.bodies import INLINE_BYTES, INLINE_ROWS, VALIDATE_ROWS, decode_body, validate_rows
from aedetect.api.deps import ScoringDep, ScoringPoolDep
from aedetect.api.v1.envelope import V1Response, V1Router
from aedetect.api.v1.schemas import Predict, Scalar
from aedetect.errors import InvalidInput, NotFound, quoted
from aedetect.services.paths import VERSION_PATTERN
from aedetect.services.scoring import ACTIVE, BATCH_ROWS, ScoringService

router = V1Router(tags=["v1 predict"])

PREDICT = "/service/state/predict/type/{kind}/nnid/{nnid}/ver/{ver}/"
KINDS = ("anomaly", "autoencoder")
OUTPUTS = ("encoder", "decoder")

ROWS = TypeAdapter(list[dict[str, Scalar]])
"""What each row of a long ``input_data`` list must be (as :class:`Predict` says)."""

PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": Predict.model_json_schema()}},
    }
}


@router.post(
    PREDICT,
    summary="anomaly: similarity of input and reconstruction (higher = more normal); "
    "autoencoder: the code (encoder) or reconstruction (decoder) of each row",
    openapi_extra=PREDICT_BODY,
)
async def predict(
    kind: str,
    nnid: str,
    ver: Annotated[
        str,
        Path(
            description=f"A version number, or '{ACTIVE}' for the active version.",
            json_schema_extra={"pattern": f"^(?:{ACTIVE}|{VERSION_PATTERN.pattern})$"},
        ),
    ],
    request: Request,
    scoring: ScoringDep,
    pool: ScoringPoolDep,
) -> Any:
    raw = await request.body()
    inline = len(raw) <= INLINE_BYTES
    body = parsed(raw) if inline else await pool.run(parsed, raw)
    del raw  # the parsed rows are all that is kept
    if inline and (body.single or len(body.rows) <= INLINE_ROWS):  # registry and model: off the loop
        return await run_in_threadpool(lambda: V1Response(_predict(kind, nnid, ver, body, scoring)))
    if body.single or len(body.rows) <= BATCH_ROWS:  # one batch: answered whole, rendered in the pool
        return await pool.run(lambda: V1Response(_predict(kind, nnid, ver, body, scoring)))
    batches = await pool.run(_batches, kind, nnid, ver, body, scoring)
    return pool.stream(request, b'"[', batches, _encoded, b", ", b']"', media_type="application/json")


class _Body:
    """The parsed request: its rows, and whether ``input_data`` was one object (one value back)."""

    def __init__(self, predict: Predict) -> None:
        self.single = isinstance(predict.input_data, dict)
        self.rows: list[Any] = [predict.input_data] if self.single else list(predict.input_data)
        self.type = predict.type


def parsed(raw: bytes) -> _Body:
    """The body as a :class:`Predict`, a long ``input_data`` list decoded and validated a little at
    a time (:mod:`aedetect.api.bodies`)."""
    value = decode_body(raw, "input_data")
    rows = value.get("input_data") if isinstance(value, dict) else None
    if not isinstance(rows, list) or len(rows) <= VALIDATE_ROWS:
        return _Body(Predict.model_validate(value))
    body = _Body(Predict.model_validate({**value, "input_data": []}))
    body.rows = validate_rows(rows, ROWS, "input_data")
    return body


def _predict(kind: str, nnid: str, ver: str, body: _Body, scoring: ScoringService) -> Any:
    """The whole answer: one similarity for one ``input_data`` object (anomaly), else a list; the
    autoencoder answers a list of vectors even for one object (``[[...]]``, docs/v1-api.md)."""
    values = [value for batch in _batches(kind, nnid, ver, body, scoring) for value in batch]
    return values[0] if body.single and kind == "anomaly" else values


def _batches(kind: str, nnid: str, ver: str, body: _Body, scoring: ScoringService) -> Iterator[list[Any]]:
    """The answer's values batch by batch; every check that can refuse the request runs now."""
    if kind == "anomaly":
        return scoring.similarity_batches(nnid, ver, body.rows)
    if kind != "autoencoder":
        raise NotFound(f"predict type {quoted(kind)} does not exist; use one of: {', '.join(KINDS)}")
    if body.type == "encoder":
        return scoring.encode_batches(nnid, ver, body.rows)
    if body.type == "decoder":
        return scoring.reconstruct_batches(nnid, ver, body.rows)
    raise InvalidInput(f"type must be one of {', '.join(OUTPUTS)}, got {quoted(body.type)}", field="type")


def _encoded(batch: list[Any]) -> bytes:
    """A batch of the answer list as the v1 double encoding writes it: the items of the inner JSON
    text (numbers, null and lists of them, which need no escaping inside the outer string)."""
    return json.dumps(batch)[1:-1].encode("ascii")
