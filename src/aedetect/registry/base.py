"""The registry interface: what the services need from storage. ``registry.sql.SqlRegistry``
implements it over SQLAlchemy (SQLite or PostgreSQL). ORM rows never leave the registry package;
every method takes and returns domain dataclasses.

Errors: an unknown id raises :class:`aedetect.errors.NotFound` naming it; a duplicate raises
:class:`aedetect.errors.Conflict`. Every method is one transaction (committed or rolled back).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aedetect.domain import (
    AliasMove,
    Dataset,
    Feedback,
    FeedbackLabel,
    Job,
    JobStatus,
    LogGap,
    Network,
    Node,
    ScoreRecord,
    ThresholdRevision,
    TrainingRun,
    Version,
)


class Registry(ABC):
    """Storage of networks, versions, workflow nodes, training runs (model versions, aliases,
    threshold revisions), datasets, jobs, the scoring log and feedback."""

    # --- networks -------------------------------------------------------------------------
    @abstractmethod
    def create_network(self, network: Network) -> Network:
        """Insert a network; ``Conflict`` if ``nn_id`` exists."""

    @abstractmethod
    def next_network_id(self) -> str:
        """A fresh id ``nn%08d`` not used by any network."""

    @abstractmethod
    def get_network(self, nn_id: str) -> Network:
        """The network, or ``NotFound``."""

    @abstractmethod
    def list_networks(self) -> list[Network]:
        """All networks, ordered by id."""

    @abstractmethod
    def update_network(self, nn_id: str, fields: dict[str, Any]) -> Network:
        """Set the given descriptive fields; ``NotFound`` if missing."""

    @abstractmethod
    def delete_network(self, nn_id: str) -> None:
        """Delete the network with its versions, nodes, runs (cascade) and the jobs of the model;
        ``NotFound`` if missing."""

    # --- versions -------------------------------------------------------------------------
    @abstractmethod
    def create_version(self, version: Version) -> Version:
        """Insert the next version number of ``version.nn_id`` (its ``version`` field is ignored
        and assigned as max + 1, starting at 1); ``NotFound`` if the network is missing."""

    @abstractmethod
    def get_version(self, nn_id: str, version: int) -> Version:
        """The version, or ``NotFound`` naming network and version."""

    @abstractmethod
    def list_versions(self, nn_id: str) -> list[Version]:
        """The network's versions by number; ``NotFound`` if the network is missing."""

    @abstractmethod
    def update_version(
        self, nn_id: str, version: int, fields: dict[str, Any], *, actor: str | None = None
    ) -> Version:
        """Set fields (info, desc, condition, def_list_nn_id, workflow_type, active). Setting
        ``active=True`` makes it the only active version of the network; a change of ``active``
        that moves ``production`` records the move (by ``actor``)."""

    @abstractmethod
    def get_active_version(self, nn_id: str) -> Version:
        """The network's active version (lowest number if several); ``NotFound`` if none."""

    # --- workflow nodes -------------------------------------------------------------------
    @abstractmethod
    def ensure_nodes(self, nn_id: str, version: int, nodes: Sequence[tuple[str, str]]) -> list[Node]:
        """Create the ``(name, kind)`` nodes that do not exist yet; existing configs are kept."""

    @abstractmethod
    def get_node(self, nn_id: str, version: int, name: str) -> Node:
        """The node, or ``NotFound`` naming it."""

    @abstractmethod
    def list_nodes(self, nn_id: str, version: int) -> list[Node]:
        """The version's nodes in creation order."""

    @abstractmethod
    def set_node_config(self, nn_id: str, version: int, name: str, config: dict[str, Any]) -> Node:
        """Replace the node's config (a JSON object)."""

    # --- training runs --------------------------------------------------------------------
    @abstractmethod
    def create_run(
        self, nn_id: str, version: int, params: dict[str, Any], job_id: str | None, *, exclusive: bool = False
    ) -> TrainingRun:
        """Insert a queued run with the next ``seq`` and ``run_id = <nn_id>_<version>_<seq>``; with
        ``exclusive``, ``Conflict`` when the version has a queued or running run (checked under the
        version's lock, so two processes never both start one)."""

    @abstractmethod
    def get_run(self, run_id: str) -> TrainingRun:
        """The run, or ``NotFound``."""

    @abstractmethod
    def list_runs(self, nn_id: str, version: int) -> list[TrainingRun]:
        """The version's runs by ``seq``."""

    @abstractmethod
    def update_run(self, run_id: str, fields: dict[str, Any]) -> TrainingRun:
        """Set fields (status, model_path, metrics, result, error, started_at, finished_at)."""

    @abstractmethod
    def finish_run(
        self, run_id: str, fields: dict[str, Any], threshold: float, inputs: dict[str, Any]
    ) -> TrainingRun:
        """Mark the run succeeded with ``fields``, number it as the network's next model version and
        record its first threshold revision (``contamination`` with ``inputs``), atomically."""

    @abstractmethod
    def activate_run(self, run_id: str, *, actor: str | None = None, note: str | None = None) -> TrainingRun:
        """Make this succeeded run the only active one of its version; when that version is the
        active one, this moves the ``production`` alias, and the move is recorded."""

    @abstractmethod
    def get_active_run(self, nn_id: str, version: int) -> TrainingRun | None:
        """The version's active run, or ``None`` when no model has been trained."""

    @abstractmethod
    def get_serving_run(self, nn_id: str, version: int | None) -> tuple[int, TrainingRun | None]:
        """The version number (``None``: the network's active version) and its active run with its
        current threshold revision, in one read: the lookup of every prediction. ``NotFound`` as
        for the version lookups."""

    # --- model versions and aliases -------------------------------------------------------
    @abstractmethod
    def get_model_version(self, nn_id: str, number: int) -> TrainingRun:
        """The run that is model version ``number``, with its current threshold; or ``NotFound``."""

    @abstractmethod
    def list_model_versions(self, nn_id: str) -> list[TrainingRun]:
        """The network's model versions by number, each with its current threshold."""

    @abstractmethod
    def aliases(self, nn_id: str) -> dict[str, int]:
        """Alias -> model version, ``production`` included when set."""

    @abstractmethod
    def resolve_alias(self, nn_id: str, alias: str) -> TrainingRun:
        """The run an alias points to, with its current threshold; ``NotFound`` naming it."""

    @abstractmethod
    def set_alias(
        self, nn_id: str, alias: str, number: int, *, actor: str | None = None, note: str | None = None
    ) -> AliasMove:
        """Point ``alias`` at model version ``number`` (``production``: make it the served model)
        and record the move."""

    @abstractmethod
    def delete_alias(self, nn_id: str, alias: str, *, actor: str | None = None) -> AliasMove:
        """Remove an alias other than ``production``, recording the move."""

    @abstractmethod
    def alias_moves(self, nn_id: str, alias: str | None = None) -> list[AliasMove]:
        """Recorded moves of one alias or all, oldest first."""

    # --- thresholds -----------------------------------------------------------------------
    @abstractmethod
    def add_threshold(
        self,
        run_id: str,
        value: float,
        strategy: str,
        inputs: dict[str, Any],
        *,
        actor: str | None = None,
        note: str | None = None,
    ) -> ThresholdRevision:
        """Record a new current threshold of a succeeded run."""

    @abstractmethod
    def list_thresholds(self, run_id: str) -> list[ThresholdRevision]:
        """The run's threshold revisions, oldest first."""

    # --- datasets -------------------------------------------------------------------------
    @abstractmethod
    def create_dataset(self, dataset: Dataset) -> Dataset:
        """Insert a dataset record; ``Conflict`` if the id exists."""

    @abstractmethod
    def get_dataset(self, dataset_id: str) -> Dataset:
        """The dataset, or ``NotFound``."""

    @abstractmethod
    def list_datasets(
        self, *, after: int | None = None, limit: int = 100
    ) -> tuple[list[Dataset], int | None]:
        """A page of datasets (oldest first) and the cursor of the next page."""

    @abstractmethod
    def dataset_users(self, dataset_id: str) -> list[str]:
        """Networks whose nodes read the dataset or whose model versions were trained on it."""

    @abstractmethod
    def delete_dataset(self, dataset_id: str) -> Dataset:
        """Remove the dataset record."""

    # --- jobs -----------------------------------------------------------------------------
    @abstractmethod
    def create_job(self, kind: str, params: dict[str, Any], model: str | None = None) -> Job:
        """Insert a queued job with a new random id (written before it is queued)."""

    @abstractmethod
    def get_job(self, job_id: str) -> Job:
        """The job, or ``NotFound``."""

    @abstractmethod
    def update_job(self, job_id: str, fields: dict[str, Any]) -> Job:
        """Set fields (status, progress, result, error, started_at, finished_at)."""

    @abstractmethod
    def list_jobs(
        self,
        statuses: Sequence[JobStatus] | None = None,
        kind: str | None = None,
        *,
        model: str | None = None,
        before: str | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Jobs, newest first, optionally filtered; ``before`` (a job id) pages on from that job."""

    @abstractmethod
    def count_jobs(self, statuses: Sequence[JobStatus], kind: str | None = None) -> int:
        """How many jobs are in one of ``statuses`` (of ``kind``, if given): one indexed count."""

    @abstractmethod
    def start_job(self, job_id: str, worker: str | None = None) -> bool:
        """Claim a job atomically: queued -> running (recording ``worker`` and a first heartbeat);
        ``False`` (nothing changed) when it is no longer queued, e.g. a second delivery."""

    @abstractmethod
    def heartbeat(self, job_id: str, worker: str) -> bool:
        """Renew ``worker``'s lease on a running job; ``False`` when the job is no longer running
        under that worker (its lease expired and it was failed, or it finished)."""

    @abstractmethod
    def finish_job(self, job_id: str, status: JobStatus, error: str | None = None) -> bool:
        """Give an unfinished job its final ``status`` (with ``finished_at``); ``False`` when it had
        finished already (a final status is never overwritten)."""

    @abstractmethod
    def fail_stale_jobs(self, lease_s: float, reason: str) -> list[str]:
        """Fail every running job whose lease (last heartbeat) is older than ``lease_s`` seconds,
        with its training run and version, and ask it to stop; returns their ids."""

    @abstractmethod
    def request_cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once, or ask a running one to stop; ``Conflict`` when finished."""

    @abstractmethod
    def cancel_requested(self, job_id: str) -> bool:
        """Whether the job was asked to stop."""

    @abstractmethod
    def fail_interrupted(self, reason: str) -> int:
        """Mark queued/running jobs and runs failed (called at start-up); returns how many jobs."""

    # --- scoring log and feedback ---------------------------------------------------------
    @abstractmethod
    def add_score_records(self, records: Sequence[ScoreRecord]) -> int:
        """Append logged rows (rows of deleted runs are dropped); returns how many were written."""

    @abstractmethod
    def list_score_records(
        self,
        nn_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        anomalies_only: bool = False,
        model_version: int | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[ScoreRecord]:
        """Logged rows of a model, newest first (``since <= scored_at < until``)."""

    @abstractmethod
    def get_score_records(self, nn_id: str, log_ids: Sequence[int]) -> dict[int, ScoreRecord]:
        """The model's logged rows with these ids."""

    @abstractmethod
    def score_counts(self, run_id: str, edges: Sequence[datetime]) -> list[tuple[int, int]]:
        """Rows and anomalies of a model version between each pair of consecutive ``edges``."""

    @abstractmethod
    def score_totals(self, since: datetime) -> dict[str, tuple[int, int]]:
        """Rows and anomalies logged since ``since``, per model (models without any left out)."""

    @abstractmethod
    def score_sample(
        self, run_id: str, since: datetime | None, until: datetime | None, *, scores: int, sampled: int
    ) -> tuple[list[float | None], list[dict[str, Any]]]:
        """The newest logged scores of a version in the window and the newest sampled values."""

    @abstractmethod
    def prune_score_log(self, older_than: datetime, keep_rows: int, keep_bytes: int | None = None) -> int:
        """Apply the retention (age, rows and bytes per model); returns the log rows removed."""

    @abstractmethod
    def add_log_gaps(self, gaps: Sequence[LogGap]) -> int:
        """Record rows that were scored but not logged."""

    @abstractmethod
    def list_log_gaps(
        self, nn_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[LogGap]:
        """A model's recorded gaps overlapping the window, oldest first."""

    @abstractmethod
    def save_feedback(self, items: Sequence[Feedback]) -> list[Feedback]:
        """Store labels; a new label of an already labelled logged row replaces the old one."""

    @abstractmethod
    def list_feedback(
        self,
        nn_id: str,
        *,
        label: FeedbackLabel | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> list[Feedback]:
        """A model's labels, newest first."""

    @abstractmethod
    def delete_feedback(self, nn_id: str, feedback_id: int) -> Feedback:
        """Remove one label; ``NotFound`` naming it."""
