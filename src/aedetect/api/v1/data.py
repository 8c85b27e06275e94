"""v1 data nodes (``wf/state/framedata/...``): uploads, source settings, file listing and removal.

Uploads are parsed from the request stream under the size limit (:mod:`aedetect.api.uploads`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from aedetect.api.deps import ContainerDep, DatasetsDep, VersionDep, WorkflowDep
from aedetect.api.uploads import read_multipart
from aedetect.api.v1.envelope import V1Router
from aedetect.api.v1.schemas import DataPreprocess, DataSource
from aedetect.errors import InvalidInput
from aedetect.services.datasets import Upload
from aedetect.services.workflow import DATA_NODE

router = V1Router(tags=["v1 data"])

DATA = "/wf/state/framedata/src/{src}/form/{form}/prg/{prg}/nnid/{nnid}/ver/{ver}/node/{node}/"
PRG = ("source", "pre", "store")

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
    DATA, summary="Upload CSV files (multipart, each form field one file)", openapi_extra=UPLOAD_SCHEMA
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
        stored = await run_in_threadpool(datasets.upload, nnid, ver, node, uploads)
    finally:
        await form.close()
    return [f"{len(stored)} file upload success"]


@router.put(DATA, summary="prg=source: describe the source; prg=pre: preprocessing; prg=store: storage")
def configure(
    src: str,
    form: str,
    prg: str,
    nnid: str,
    ver: VersionDep,
    node: str,
    datasets: DatasetsDep,
    body: dict[str, Any] | None = None,
) -> Any:
    body = body or {}
    if prg == "source":
        source = DataSource.model_validate(body)
        return datasets.set_source(nnid, ver, node, src, form, source.model_dump(exclude_unset=True))
    if prg == "pre":
        return datasets.set_preprocess(nnid, ver, node, DataPreprocess.model_validate(body).preprocess)
    if prg == "store":
        return datasets.set_store(nnid, ver, node)
    raise InvalidInput(f"prg {prg!r} is not supported; use one of: {', '.join(PRG)}", field="prg")


@router.get(DATA, summary="The node's settings and files")
def describe(nnid: str, ver: VersionDep, node: str, datasets: DatasetsDep) -> dict[str, Any]:
    return datasets.describe(nnid, ver, node)


@router.delete(DATA, summary="Remove the node's files")
def delete_files(nnid: str, ver: VersionDep, node: str, datasets: DatasetsDep) -> str:
    return f"{datasets.delete_files(nnid, ver, node)} file delete success"
