"""A typed Python client of the native API (``/api/v2``), over httpx.

>>> from aedetect.client import Client
>>> api = Client("http://127.0.0.1:8000")
>>> ds = api.upload_dataset("train.csv")
>>> api.create_model("plant-7", dataset=ds["id"], params={"epochs": 20})
>>> job = api.train("plant-7", wait=True)          # a progress bar from the job's events
>>> api.score("plant-7", [{"temperature": 71.2, "line": "L7"}])["rows"][0]["is_anomaly"]

Every error answer raises :class:`ApiError` with the problem details (``status``, ``type``,
``detail``, ``field``, ``column``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypedDict

import httpx

from aedetect.client.progress import JobProgress
from aedetect.client.types import (
    AliasInfo,
    DatasetInfo,
    DriftInfo,
    EvaluationInfo,
    FeedbackInfo,
    FeedbackPageInfo,
    JobInfo,
    ModelInfo,
    ProposalInfo,
    ScoreAnswer,
    ScoreLogInfo,
    ThresholdInfo,
    VersionInfo,
)

V2 = "/api/v2"
FINISHED = ("succeeded", "failed", "cancelled")


class Page(TypedDict):
    items: list[Any]
    next: str | None


class ApiError(Exception):
    """An error answer of the service, as RFC 9457 problem details."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        self.type = str(problem.get("type", ""))
        self.detail = str(problem.get("detail", problem))
        self.field = problem.get("field")
        self.column = problem.get("column")
        super().__init__(f"{status}: {self.detail}")


class Client:
    """The native API of one aedetect service.

    Parameters
    ----------
    base_url
        Where the service runs, e.g. ``http://127.0.0.1:8000``.
    api_key
        Sent as ``Authorization: Bearer <key>`` when given.
    timeout
        Seconds to wait for an answer.
    """

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 300.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/") + V2, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        return self._decoded(response)

    @staticmethod
    def _decoded(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            raise ApiError(
                response.status_code, problem if isinstance(problem, dict) else {"detail": problem}
            )
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("text/csv"):
            return response.text
        return response.json()

    # --- datasets -----------------------------------------------------------------------------
    def upload_dataset(
        self,
        file: str | Path | BinaryIO,
        name: str | None = None,
        *,
        sheet: str | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        decimal: str | None = None,
    ) -> DatasetInfo:
        """Upload a CSV file or an Excel workbook (path or binary file object) as a dataset.

        ``sheet`` chooses a workbook's sheet (default: the first); ``encoding``, ``delimiter`` and
        ``decimal`` (``"."`` or ``","``) override what is detected in a CSV file. The answer's
        ``format`` says how the file was read."""
        if isinstance(file, str | Path):
            path = Path(file)
            with path.open("rb") as handle:
                return self.upload_dataset(
                    handle,
                    name or path.name,
                    sheet=sheet,
                    encoding=encoding,
                    delimiter=delimiter,
                    decimal=decimal,
                )
        result: DatasetInfo = self._call(
            "POST",
            "/datasets",
            params=_params(sheet=sheet, encoding=encoding, delimiter=delimiter, decimal=decimal),
            files={"file": (name or "upload.csv", file, "application/octet-stream")},
        )
        return result

    def datasets(self, cursor: str | None = None, limit: int = 100) -> Page:
        return self._call("GET", "/datasets", params=_params(cursor=cursor, limit=limit))

    def dataset(self, dataset_id: str) -> DatasetInfo:
        result: DatasetInfo = self._call("GET", f"/datasets/{dataset_id}")
        return result

    def delete_dataset(self, dataset_id: str) -> None:
        self._call("DELETE", f"/datasets/{dataset_id}")

    # --- models -------------------------------------------------------------------------------
    def create_model(self, name: str, dataset: str, **fields: Any) -> ModelInfo:
        """Create a model; ``fields``: columns, categorical, params, eval_dataset, label_column, ..."""
        result: ModelInfo = self._call("POST", "/models", json={"name": name, "dataset": dataset, **fields})
        return result

    def models(self, cursor: str | None = None, limit: int = 100) -> Page:
        return self._call("GET", "/models", params=_params(cursor=cursor, limit=limit))

    def model(self, name: str) -> ModelInfo:
        result: ModelInfo = self._call("GET", f"/models/{name}")
        return result

    def update_model(self, name: str, **changes: Any) -> ModelInfo:
        result: ModelInfo = self._call("PATCH", f"/models/{name}", json=changes)
        return result

    def delete_model(self, name: str) -> None:
        self._call("DELETE", f"/models/{name}")

    # --- training and jobs --------------------------------------------------------------------
    def train(self, name: str, wait: bool = False, progress: bool = True, feedback: bool = False) -> JobInfo:
        """Start training; with ``wait``, follow the job's events (a tqdm bar unless ``progress``
        is false) and return it finished. With ``feedback``, the operators' labels change the
        training rows (confirmed normal rows in, confirmed anomalies out)."""
        job: JobInfo = self._call(
            "POST", f"/models/{name}/train", json={"feedback": True} if feedback else None
        )
        if not wait:
            return job
        return self.follow(job["id"], progress=progress)

    def job(self, job_id: str, wait: float = 0) -> JobInfo:
        result: JobInfo = self._call("GET", f"/jobs/{job_id}", params=_params(wait=wait or None))
        return result

    def jobs(self, model: str | None = None, status: str | None = None, cursor: str | None = None) -> Page:
        return self._call("GET", "/jobs", params=_params(model=model, status=status, cursor=cursor))

    def cancel(self, job_id: str) -> JobInfo:
        result: JobInfo = self._call("POST", f"/jobs/{job_id}/cancel")
        return result

    def events(self, job_id: str) -> Iterator[JobInfo]:
        """The job each time it changes (Server-Sent Events), until it has finished."""
        with self._http.stream("GET", f"/jobs/{job_id}/events", timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                self._decoded(response)
            event, data = "", []
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    if event == "progress":
                        yield json.loads("\n".join(data))
                    if event == "end":
                        return
                    event, data = "", []

    def follow(self, job_id: str, progress: bool = True) -> JobInfo:
        """Wait for the job through its events, showing epochs (or rows) on stderr: a progress
        bar on a terminal, one line per change otherwise (see :class:`JobProgress`)."""
        last: JobInfo | None = None
        with JobProgress(job_id, enabled=progress) as shown:
            for job in self.events(job_id):
                last = job
                shown.show(job)
        return self.job(job_id) if last is None or last["status"] not in FINISHED else last

    def job_result(self, job_id: str) -> str:
        """The CSV a scoring job wrote."""
        return str(self._call("GET", f"/jobs/{job_id}/result"))

    # --- versions, aliases, thresholds ----------------------------------------------------------
    def versions(self, name: str) -> list[VersionInfo]:
        return list(self._call("GET", f"/models/{name}/versions")["items"])

    def version(self, name: str, version: int) -> VersionInfo:
        result: VersionInfo = self._call("GET", f"/models/{name}/versions/{version}")
        return result

    def set_alias(self, name: str, alias: str, version: int, note: str | None = None) -> AliasInfo:
        result: AliasInfo = self._call(
            "PUT", f"/models/{name}/aliases/{alias}", json=_params(version=version, note=note)
        )
        return result

    def alias(self, name: str, alias: str) -> AliasInfo:
        result: AliasInfo = self._call("GET", f"/models/{name}/aliases/{alias}")
        return result

    def set_threshold(self, name: str, version: int, strategy: str, **inputs: Any) -> ThresholdInfo:
        """E.g. ``set_threshold("plant-7", 3, "fpr", target=0.01, dataset=ds_id)``."""
        result: ThresholdInfo = self._call(
            "PUT", f"/models/{name}/versions/{version}/threshold", json={"strategy": strategy, **inputs}
        )
        return result

    def propose_threshold(self, name: str, version: int, strategy: str, **inputs: Any) -> ProposalInfo:
        """What ``strategy`` would set and would have given, without changing anything."""
        result: ProposalInfo = self._call(
            "POST",
            f"/models/{name}/versions/{version}/threshold/proposal",
            json={"strategy": strategy, **inputs},
        )
        return result

    def thresholds(self, name: str, version: int) -> list[ThresholdInfo]:
        return list(self._call("GET", f"/models/{name}/versions/{version}/thresholds")["items"])

    def evaluate(
        self, name: str, version: int, dataset: str, label_column: str, **extra: Any
    ) -> EvaluationInfo:
        result: EvaluationInfo = self._call(
            "POST",
            f"/models/{name}/versions/{version}/evaluate",
            json={"dataset": dataset, "label_column": label_column, **extra},
        )
        return result

    # --- scoring --------------------------------------------------------------------------------
    def score(
        self,
        name: str,
        rows: Sequence[Mapping[str, Any]],
        version: int | None = None,
        alias: str | None = None,
        top: int = 3,
    ) -> ScoreAnswer:
        """Score rows with a version (default: production)."""
        result: ScoreAnswer = self._call(
            "POST",
            f"/models/{name}/score",
            params=_params(version=version, alias=alias),
            json={"rows": list(rows), "top": top},
        )
        return result

    def score_csv(
        self, name: str, csv: bytes | str, version: int | None = None, alias: str | None = None
    ) -> str:
        """Score a CSV text; answers the scored CSV."""
        content = csv.encode("utf-8") if isinstance(csv, str) else csv
        return str(
            self._call(
                "POST",
                f"/models/{name}/score",
                params=_params(version=version, alias=alias),
                content=content,
                headers={"Content-Type": "text/csv"},
            )
        )

    def score_dataset(self, name: str, dataset: str, version: int | None = None, top: int = 3) -> JobInfo:
        """Score a stored dataset as a job; fetch the CSV with :meth:`job_result` once it succeeded."""
        result: JobInfo = self._call(
            "POST",
            f"/models/{name}/score",
            params=_params(version=version),
            json={"dataset": dataset, "top": top},
        )
        return result

    # --- monitoring -----------------------------------------------------------------------------
    def scores(
        self,
        name: str,
        since: str | None = None,
        until: str | None = None,
        anomalies_only: bool = False,
        version: int | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> ScoreLogInfo:
        """A page of the scoring log (newest first) with its gaps and the log's status."""
        result: ScoreLogInfo = self._call(
            "GET",
            f"/models/{name}/scores",
            params=_params(
                since=since,
                until=until,
                anomalies_only=anomalies_only or None,
                version=version,
                cursor=cursor,
                limit=limit,
            ),
        )
        return result

    def drift(
        self,
        name: str,
        version: int,
        window: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> DriftInfo:
        """The version's drift report over ``window`` (e.g. ``24h``) or ``since``/``until``."""
        result: DriftInfo = self._call(
            "GET",
            f"/models/{name}/versions/{version}/drift",
            params=_params(window=window, since=since, until=until),
        )
        return result

    def profile(self, name: str, version: int) -> dict[str, Any]:
        """The version's training profile."""
        result: dict[str, Any] = self._call("GET", f"/models/{name}/versions/{version}/profile")
        return result

    def add_feedback(
        self,
        name: str,
        items: Sequence[Mapping[str, Any]] | None = None,
        rows: Sequence[Mapping[str, Any]] | None = None,
        label: str | None = None,
        note: str | None = None,
    ) -> list[FeedbackInfo]:
        """Label logged rows (``items`` of ``{"id", "label", "note"?}``) or ``rows`` with ``label``."""
        body = (
            {"items": list(items)}
            if items is not None
            else _params(rows=list(rows or []), label=label, note=note)
        )
        return list(self._call("POST", f"/models/{name}/feedback", json=body)["items"])

    def feedback(
        self,
        name: str,
        version: int | None = None,
        label: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> FeedbackPageInfo:
        """Labels (newest first) with precision, recall, confirmed anomalies and false alarms."""
        result: FeedbackPageInfo = self._call(
            "GET",
            f"/models/{name}/feedback",
            params=_params(version=version, label=label, cursor=cursor, limit=limit),
        )
        return result

    def delete_feedback(self, name: str, feedback_id: int) -> None:
        self._call("DELETE", f"/models/{name}/feedback/{feedback_id}")


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


__all__ = ["ApiError", "Client", "Page"]
