"""Networks, their versions and the choice of the model that serves a version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aedetect.domain import JobStatus, Network, TrainingRun, Version, VersionCondition
from aedetect.errors import Conflict, Hint, InvalidInput, NotFound, PayloadTooLarge, quoted
from aedetect.registry.base import Registry
from aedetect.services.batch import SCORE_JOB
from aedetect.services.limits import Limits
from aedetect.services.paths import DataPaths, check_nn_id, check_run_id
from aedetect.services.scoring import ModelCache
from aedetect.services.training import TrainingService
from aedetect.storage import ArtifactStore

NEW_ID = "new"
"""Network id asking the service to generate one (``nn%08d``)."""

FIELD_LIMITS: dict[str, int | None] = {
    "biz_cate": 100,
    "biz_sub_cate": 100,
    "nn_title": 200,
    "nn_desc": None,
    "use_flag": 1,
    "dir": 200,
    "config": None,
}
"""Descriptive network fields and their longest accepted length (``None``: the free-text limit,
``AEDETECT_MAX_TEXT_CHARS``)."""

VERSION_TEXT = {"info": "nn_wf_ver_info", "desc": "nn_wf_ver_desc"}
"""Free-text version fields and their v1 names (said in messages)."""

DEF_LIST_ID_CHARS = 50

CREATE_ATTEMPTS = 5


@dataclass(frozen=True)
class NetworkSummary:
    """A network with its active version and that version's serving model, if any."""

    network: Network
    active_version: Version | None
    serving_run: TrainingRun | None
    training: bool


@dataclass(frozen=True)
class VersionSummary:
    """A version with its newest successful run and its serving run."""

    version: Version
    latest_run: TrainingRun | None
    serving_run: TrainingRun | None


def _too_long(field: str, length: int, limits: Limits) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{field} has {length} characters, over the limit of {limits.max_text_chars} "
        "(AEDETECT_MAX_TEXT_CHARS)",
        field=field,
    )


def _version_fields(fields: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """The given version fields without ``None`` values, their text within the limits."""
    values = {k: v for k, v in fields.items() if v is not None}
    for name, wire in VERSION_TEXT.items():
        if isinstance(values.get(name), str) and len(values[name]) > limits.max_text_chars:
            raise _too_long(wire, len(values[name]), limits)
    linked = values.get("def_list_nn_id")
    if isinstance(linked, str) and len(linked) > DEF_LIST_ID_CHARS:
        raise InvalidInput(
            f"nn_def_list_info_nn_id is longer than {DEF_LIST_ID_CHARS} characters",
            field="nn_def_list_info_nn_id",
        )
    if "condition" in values:
        values["condition"] = _condition(values["condition"])
    return values


def _network_fields(fields: Mapping[str, Any], limits: Limits) -> dict[str, str]:
    """The given descriptive fields, checked; ``None`` values are left out."""
    values: dict[str, str] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name not in FIELD_LIMITS:
            raise InvalidInput(f"unknown network field {quoted(name)}", field=name)
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be a string, got {quoted(value)}", field=name)
        limit = FIELD_LIMITS[name]
        if limit is None and len(value) > limits.max_text_chars:
            raise _too_long(name, len(value), limits)
        if limit is not None and len(value) > limit:
            raise InvalidInput(f"{name} is longer than {limit} characters", field=name)
        values[name] = value
    if values.get("use_flag", "Y") not in ("Y", "N"):
        raise InvalidInput(f"use_flag must be 'Y' or 'N', got {quoted(values['use_flag'])}", field="use_flag")
    return values


def _new_network(nn_id: str, values: Mapping[str, str]) -> Network:
    return Network(
        nn_id=nn_id,
        biz_cate=values.get("biz_cate", ""),
        biz_sub_cate=values.get("biz_sub_cate", ""),
        nn_title=values.get("nn_title", ""),
        nn_desc=values.get("nn_desc", ""),
        use_flag=values.get("use_flag", "Y"),
        dir=values.get("dir", ""),
        config=values.get("config", ""),
    )


def _condition(value: Any) -> VersionCondition:
    try:
        return VersionCondition(value)
    except ValueError:
        allowed = ", ".join(c.value for c in VersionCondition)
        raise InvalidInput(
            f"condition must be one of {allowed}, got {quoted(value)}", field="condition"
        ) from None


class NetworkService:
    """Create, list, change and delete networks and versions; choose serving models."""

    def __init__(
        self,
        registry: Registry,
        paths: DataPaths,
        store: ArtifactStore,
        training: TrainingService,
        cache: ModelCache,
        limits: Limits,
    ) -> None:
        self._registry = registry
        self._paths = paths
        self._store = store
        self._training = training
        self._cache = cache
        self._limits = limits

    # --- networks -----------------------------------------------------------------------------
    def create(self, nn_id: str, fields: Mapping[str, Any]) -> Network:
        """Create a network (``nn_id`` "new" generates an id); ``Conflict`` if the id exists."""
        values = _network_fields(fields, self._limits)
        if nn_id != NEW_ID:
            try:
                return self._registry.create_network(_new_network(check_nn_id(nn_id), values))
            except Conflict as exc:
                raise Conflict(
                    f"network {nn_id} already exists: use another id (or 'new' for a generated one), "
                    "change this one, or delete it first",
                    field="nn_id",
                    hint=Hint("change_network", model=nn_id),
                ) from exc
        for attempt in range(CREATE_ATTEMPTS):
            try:
                generated = self._registry.next_network_id()
                return self._registry.create_network(_new_network(generated, values))
            except Conflict:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def get(self, nn_id: str) -> Network:
        """The network, or ``NotFound``."""
        return self._registry.get_network(check_nn_id(nn_id))

    def all(self) -> list[Network]:
        """Every network, by id."""
        return self._registry.list_networks()

    def summary(self, network: Network) -> NetworkSummary:
        """The network with its active version and serving model."""
        versions = self._registry.list_versions(network.nn_id)
        active = next((v for v in versions if v.active), None)
        serving = self._registry.get_active_run(network.nn_id, active.version) if active else None
        training = any(
            not r.status.finished
            for v in versions
            for r in self._registry.list_runs(network.nn_id, v.version)
        )
        return NetworkSummary(network, active, serving, training)

    def update(self, nn_id: str, fields: Mapping[str, Any]) -> Network:
        """Set the given descriptive fields (``None`` values are left unchanged)."""
        return self._registry.update_network(check_nn_id(nn_id), _network_fields(fields, self._limits))

    def delete(self, nn_id: str) -> None:
        """Delete the network with its versions, uploaded files, models, jobs and the result
        files of its scoring jobs, and nothing else. ``Conflict`` while one of its versions is
        training (field ``nn_id``) or one of its scoring jobs has not finished (field ``job_id``)."""
        with self._training.guard():
            check_nn_id(nn_id)
            run_ids = []
            for version in self._registry.list_versions(nn_id):
                for run in self._registry.list_runs(nn_id, version.version):
                    if not run.status.finished:
                        raise Conflict(
                            f"network {nn_id} is training (run {run.run_id}): delete it when the run "
                            "has finished",
                            field="nn_id",
                        )
                    run_ids.append(run.run_id)
            scorings = self._registry.list_jobs(kind=SCORE_JOB, model=nn_id)
            for job in scorings:
                if not job.status.finished:
                    raise Conflict(
                        f"{nn_id} is scoring a dataset (job {job.job_id}, {job.status.value}): cancel the "
                        f"job or wait for it to finish, then delete {nn_id}",
                        field="job_id",
                    )
            # files first, set aside under a temporary name: a failure here changes nothing, a
            # failure of the registry delete puts them back, so a retry always completes
            keys = [*self._paths.network_dirs(nn_id), *(self._paths.job_result(j.job_id) for j in scorings)]
            moved = self._store.move_aside(keys, f"deleting network {nn_id}")
            try:
                self._registry.delete_network(nn_id)
            except BaseException:
                self._store.restore(moved)
                raise
            self._store.purge(moved)
            self._cache.invalidate(run_ids)

    # --- versions -----------------------------------------------------------------------------
    def create_version(
        self,
        nn_id: str,
        *,
        info: str = "",
        desc: str = "",
        condition: Any = VersionCondition.PENDING,
        active: bool = False,
        def_list_nn_id: str = "",
    ) -> Version:
        """Create the network's next version; ``active`` makes it the only active one."""
        fields = {"info": info, "desc": desc, "condition": condition, "def_list_nn_id": def_list_nn_id}
        values = _version_fields(fields, self._limits)
        created = self._registry.create_version(Version(nn_id=check_nn_id(nn_id), version=0, **values))
        if active:
            created = self._registry.update_version(nn_id, created.version, {"active": True})
        return created

    def versions(self, nn_id: str) -> list[VersionSummary]:
        """The network's versions with their newest successful and serving runs."""
        summaries = []
        for version in self._registry.list_versions(check_nn_id(nn_id)):
            runs = self._registry.list_runs(nn_id, version.version)
            succeeded = [r for r in runs if r.status is JobStatus.SUCCEEDED]
            serving = next((r for r in runs if r.active), None)
            summaries.append(VersionSummary(version, succeeded[-1] if succeeded else None, serving))
        return summaries

    def version(self, nn_id: str, version: int) -> Version:
        """The version, or ``NotFound``."""
        return self._registry.get_version(check_nn_id(nn_id), version)

    def update_version(
        self, nn_id: str, version: int, fields: Mapping[str, Any], actor: str | None = None
    ) -> Version:
        """Set version fields (info, desc, condition, active, def_list_nn_id); ``active=True``
        makes it the network's only active version (a move of ``production``, recorded as by
        ``actor``)."""
        return self._registry.update_version(
            check_nn_id(nn_id), version, _version_fields(fields, self._limits), actor=actor
        )

    def runs(self, nn_id: str, version: int) -> list[TrainingRun]:
        """The version's training runs (its models), oldest first."""
        self._registry.get_version(check_nn_id(nn_id), version)
        return self._registry.list_runs(nn_id, version)

    def choose_model(self, nn_id: str, version: int, run_id: str, actor: str | None = None) -> TrainingRun:
        """Make a succeeded run of the version the one that serves its predictions (a move of
        ``production`` when it is the active version, recorded as by ``actor``)."""
        self._registry.get_version(check_nn_id(nn_id), version)
        run = self._registry.get_run(check_run_id(run_id))
        if run.nn_id != nn_id or run.version != version:
            raise NotFound(f"model {run_id} does not belong to version {version} of network {nn_id}")
        previous = self._registry.get_active_run(nn_id, version)
        chosen = self._registry.activate_run(run_id, actor=actor)
        if previous is not None and previous.run_id != run_id:
            self._cache.invalidate([previous.run_id])
        return chosen
