"""v1 data nodes (``wf/state/framedata/...``): uploads, source settings, file listing and removal.

Uploads are parsed from the request stream under the size limit (:mod:`aedetect.api.uploads`; the
body limit middleware holds every route to it as well).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from aedetect.api.deps import ContainerDep, DatasetsDep, VersionDep, WorkflowDep
from aedetect.api.uploads import read_multipart
from aedetect.api.v1.envelope import V1Router
from aedetect.api.v1.schemas import DataPreprocess, DataSource
from aedetect.errors import InvalidInput, listed, quoted
from aedetect.services.node_data import Upload
from aedetect.services.workflow import DATA_NODE

router = V1Router(tags=["v1 data"])

DATA = "/wf/state/framedata/src/{src}/form/{form}/prg/{prg}/nnid/{nnid}/ver/{ver}/node/{node}/"
PRG = ("source", "pre", "store")


@dataclass(frozen=True)
class DataLocation:
    """The ``src``/``form``/``prg`` segments of a data node path."""

    src: str
    form: str
    prg: str


def data_location(
    src: Annotated[str, Path(description="Where the data comes from: 'local' (uploaded over this API).")],
    form: Annotated[str, Path(description="How it is read, e.g. 'raw' (kept as source_parse_type).")],
    prg: Annotated[
        str,
        Path(description="What a PUT sets: 'source', 'pre' (preprocessing) or 'store'; others ignore it."),
    ],
) -> DataLocation:
    return DataLocation(src, form, prg)


DataLocationDep = Annotated[DataLocation, Depends(data_location)]
DESCRIBED = [Depends(data_location)]
"""Declares the location segments on routes that do not use them, so the API description is complete."""

UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "format": "binary"},
                    "description": "Each form field one CSV file (any field name).",
                }
            }
        },
    }
}


@router.post(
    DATA,
    summary="Upload CSV files (multipart, each form field one file)",
    openapi_extra=UPLOAD_SCHEMA,
    dependencies=DESCRIBED,
)
async def upload(
    request: Request,
    nnid: str,
    ver: VersionDep,
    node: str,
    datasets: DatasetsDep,
    workflow: WorkflowDep,
    container: ContainerDep,
) -> list[str]:
    await run_in_threadpool(workflow.node, nnid, ver, node, DATA_NODE)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput(
            "send the files as multipart/form-data, each form field one file "
            "(requests: files={'name': open('data.csv', 'rb')})",
            field="file",
        )
    form = await read_multipart(request, container.settings.max_upload_bytes)
    try:
        uploads = [
            Upload(field=name, filename=value.filename, content=value.file)
            for name, value in form.multi_items()
            if isinstance(value, UploadFile)
        ]
        result = await run_in_threadpool(datasets.upload, nnid, ver, node, uploads)
    finally:
        await form.close()
    answer = [f"{len(result.stored)} file upload success"]
    if result.replaced:
        answer.append(f"replaced the earlier file(s) of the same name: {listed(result.replaced)}")
    return answer


@router.put(DATA, summary="prg=source: describe the source; prg=pre: preprocessing; prg=store: storage")
def configure(
    location: DataLocationDep,
    nnid: str,
    ver: VersionDep,
    node: str,
    datasets: DatasetsDep,
    body: dict[str, Any] | None = None,
) -> Any:
    body = body or {}
    if location.prg == "source":
        source = DataSource.model_validate(body).model_dump(exclude_unset=True)
        return datasets.set_source(nnid, ver, node, location.src, location.form, source)
    if location.prg == "pre":
        return datasets.set_preprocess(nnid, ver, node, DataPreprocess.model_validate(body).preprocess)
    if location.prg == "store":
        return datasets.set_store(nnid, ver, node)
    raise InvalidInput(
        f"prg {quoted(location.prg)} is not supported; use one of: {', '.join(PRG)}", field="prg"
    )


@router.get(DATA, summary="The node's settings and files", dependencies=DESCRIBED)
def describe(nnid: str, ver: VersionDep, node: str, datasets: DatasetsDep) -> dict[str, Any]:
    return datasets.describe(nnid, ver, node)


@router.delete(DATA, summary="Remove the node's files", dependencies=DESCRIBED)
def delete_files(nnid: str, ver: VersionDep, node: str, datasets: DatasetsDep) -> str:
    return f"{datasets.delete_files(nnid, ver, node)} file delete success"
