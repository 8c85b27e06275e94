"""``/api/v2/datasets``: upload a CSV file or an Excel workbook (multipart field ``file``, or a
raw body), list, show with its first rows, delete one that no model needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from aedetect.api.deps import CatalogDep
from aedetect.api.principal import sees_values
from aedetect.api.uploads import read_multipart, spool_body
from aedetect.api.v2.problems import problem_responses
from aedetect.api.v2.schemas import (
    ColumnProfile,
    DatasetDetail,
    DatasetFormat,
    DatasetId,
    DatasetList,
    DatasetPublic,
)
from aedetect.data.tables import TableOptions
from aedetect.domain import Dataset
from aedetect.errors import InvalidInput, UnsupportedMediaType, quoted
from aedetect.services.paths import CURSOR_PATTERN, schema_pattern

router = APIRouter(prefix="/datasets", tags=["datasets"])

CSV_TYPES = (
    "text/csv",
    "application/csv",
    "text/plain",
    "application/octet-stream",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel",
)
"""Raw body types taken; what the file is, is told by its content."""
OPTION_FIELDS = ("sheet", "encoding", "delimiter", "decimal")

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The CSV file or Excel workbook.",
                        }
                    },
                    "required": ["file"],
                }
            },
            "text/csv": {
                "schema": {"type": "string", "description": "The CSV text (name it with ?name=)."},
                "example": "protocol_type,service,src_bytes\ntcp,http,181\n",
            },
        },
    }
}


def dataset_public(dataset: Dataset, values: bool = True) -> DatasetPublic:
    """The dataset as the API shows it; without ``values`` its columns carry no example values."""
    return DatasetPublic(
        id=dataset.dataset_id,
        name=dataset.name,
        bytes=dataset.bytes,
        rows=dataset.rows,
        columns=[ColumnProfile(**(c if values else {**c, "examples": []})) for c in dataset.columns],
        created_at=dataset.created_at,
        format=DatasetFormat(**dataset.format) if dataset.format else None,
    )


@router.post(
    "",
    status_code=201,
    summary="Upload a CSV file or Excel workbook as a dataset; answers its id, inferred schema and "
    "how it was read",
    openapi_extra=UPLOAD_BODY,
    responses=problem_responses(400, 413, 415),
)
async def upload(
    request: Request,
    catalog: CatalogDep,
    name: Annotated[
        str | None, Query(description="File name for a raw text/csv body.", examples=["line7.csv"])
    ] = None,
    sheet: Annotated[
        str | None, Query(description="Workbook sheet to read (default: the first).", examples=["Line 7"])
    ] = None,
    encoding: Annotated[
        str | None, Query(description="CSV text encoding (default: detected).", examples=["cp949"])
    ] = None,
    delimiter: Annotated[
        str | None, Query(description="CSV field delimiter, or 'tab' (default: detected).", examples=[";"])
    ] = None,
    decimal: Annotated[
        str | None,
        Query(description="Decimal mark of CSV numbers, '.' or ',' (default: detected).", examples=[","]),
    ] = None,
) -> DatasetPublic:
    asked = {"sheet": sheet, "encoding": encoding, "delimiter": delimiter, "decimal": decimal}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await read_multipart(request, catalog.max_bytes)
        try:
            for key, value in form.multi_items():
                if key in OPTION_FIELDS and isinstance(value, str) and asked[key] is None:
                    asked[key] = value
            options = _options(asked)
            files = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile)]
            if len(files) != 1 or files[0][0] != "file":
                raise InvalidInput(
                    f"send exactly one file in the multipart field 'file', got fields: "
                    f"{', '.join(k for k, _ in files) or 'none'}",
                    field="file",
                )
            upload = files[0][1]
            dataset = await run_in_threadpool(catalog.add, name or upload.filename, upload.file, options)
        finally:
            await form.close()
    elif content_type in CSV_TYPES:
        options = _options(asked)
        body = await spool_body(request, catalog.max_bytes)
        try:
            dataset = await run_in_threadpool(catalog.add, name, body, options)
        finally:
            body.close()
    else:
        raise UnsupportedMediaType(
            f"content type {quoted(content_type or 'none')} is not taken here: send the file as "
            "multipart/form-data (field 'file') or as a text/csv (or application/octet-stream) body",
            field="body",
        )
    return dataset_public(dataset)


def _options(asked: dict[str, str | None]) -> TableOptions:
    """The reading options of an upload; empty values are left to detection."""
    given = {k: (v or None) for k, v in asked.items()}
    if given["delimiter"] in ("tab", "\\t"):
        given["delimiter"] = "\t"
    return TableOptions(**given)


DATASET_ACCESS = (
    "Raw row values are a writer's (README: Access): a reader's key lists datasets with their "
    "schemas but no example values, and gets 403 for a dataset's first rows."
)


@router.get(
    "",
    summary="List datasets, oldest first",
    description=DATASET_ACCESS,
    responses=problem_responses(400),
)
def list_datasets(
    request: Request,
    catalog: CatalogDep,
    cursor: Annotated[
        str | None,
        Query(
            description="The 'next' value of the previous page.",
            examples=["12"],
            json_schema_extra=schema_pattern(CURSOR_PATTERN),
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Datasets per page.", examples=[50])] = 100,
) -> DatasetList:
    items, following = catalog.page(cursor, limit)
    return DatasetList(items=[dataset_public(d, sees_values(request)) for d in items], next=following)


@router.get(
    "/{dataset_id}",
    summary="A dataset with its schema and first rows",
    description=DATASET_ACCESS,
    responses=problem_responses(400, 404),
)
def get_dataset(dataset_id: DatasetId, catalog: CatalogDep) -> DatasetDetail:
    dataset = catalog.get(dataset_id)
    return DatasetDetail(**dataset_public(dataset).model_dump(), preview=catalog.preview(dataset_id))


@router.delete(
    "/{dataset_id}",
    status_code=204,
    summary="Delete a dataset that no model needs (409 names the models that do)",
    responses=problem_responses(400, 404, 409),
)
def delete_dataset(dataset_id: DatasetId, catalog: CatalogDep) -> Response:
    catalog.delete(dataset_id)
    return Response(status_code=204)
