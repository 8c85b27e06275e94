"""Models of the native API over the same domain as v1: a model is a network (its name is the
``nn_id``), its configuration is the nodes of the network's active workflow version (set from the
request body), every successful training is a numbered model version, and the ``production``
alias is what v1 calls the active model. Networks created over v1 appear here as models too.

Every request is checked in full before anything is stored: unknown columns, bad parameters and a
label column used as a feature are refused with the field (and column) at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from aedetect.detectors.params import (
    PARAMETERS,
    REMOVED,
    default_text,
    service_parameters,
    unknown_parameter,
)
from aedetect.detectors.params import (
    describe_params as describe_params,  # the API documents the params field with the table
)
from aedetect.domain import PRODUCTION, AliasMove, Job, JobStatus, Network, TrainingRun
from aedetect.errors import AedetectError, Conflict, Hint, InvalidInput, NotFound, listed, quoted
from aedetect.registry.base import Registry
from aedetect.services.catalog import DatasetCatalog
from aedetect.services.limits import (
    Limits,
    check_epochs,
    check_layers,
    check_network,
    check_training_budget,
    summary_widths,
)
from aedetect.services.networks import NetworkService
from aedetect.services.node_data import DatasetService
from aedetect.services.paths import check_nn_id
from aedetect.services.training import NATIVE_PARAMS, TrainingService
from aedetect.services.workflow import (
    AUTOENCODER_CSV,
    EVAL,
    EVAL_DATA,
    EVAL_NODE,
    FEED_NODE,
    NETCONF,
    NETCONF_NODE,
    TRAIN_DATA,
    TRAIN_FEED,
    WorkflowService,
)

ALIAS_PATTERN = re.compile(r"[a-z][a-z0-9_\-]{0,49}")
"""Alias names: lower-case letters, digits, '_' and '-', starting with a letter."""

MAX_PAGE = 500


def parameter_names() -> list[str]:
    """The parameters a model accepts: the detector's own, less those the request and the server
    set (columns, device, threads)."""
    return sorted(service_parameters())


def parameter_defaults() -> dict[str, Any]:
    """Each parameter's default (``None`` where the library chooses from the data)."""
    return {name: _default(name) for name in parameter_names()}


def parameter_help() -> dict[str, str]:
    """Each parameter's one-line explanation, with its default (what the dashboard shows)."""
    return {
        name: f"{PARAMETERS[name].help} Default: {default_text(PARAMETERS[name])}."
        for name in parameter_names()
    }


def _default(name: str) -> Any:
    param = PARAMETERS[name]
    return param.auto if param.default is None else param.default


def check_params(params: Mapping[str, Any], limits: Limits, n_columns: int) -> dict[str, Any]:
    """``params`` if every name is a detector parameter, every value passes the detector's own
    checks and the network fits the cost limits for ``n_columns`` model columns, else
    ``InvalidInput`` (or ``PayloadTooLarge`` for the network's size) naming ``params.<name>``."""
    known = parameter_names()
    unknown = [name for name in params if name not in known]
    if unknown:
        message = (
            unknown_parameter(unknown[0]).message
            if unknown[0] in REMOVED
            else f"unknown parameter(s) {listed(map(quoted, unknown))}; parameters are: {', '.join(known)}"
        )
        raise InvalidInput(message, field=f"params.{unknown[0]}")
    values = {k: v for k, v in params.items() if v is not None}
    hidden = values.get("n_hidden")
    if isinstance(hidden, list):
        check_layers(len(hidden), limits)
    try:
        checked = {name: PARAMETERS[name].check(value) for name, value in values.items()}
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=f"params.{exc.field}" if exc.field else "params") from exc
    check_epochs(values.get("epochs"), limits, "params.epochs")
    if hidden is not None:
        at_least = f"at least 2 inputs for each of {n_columns} columns"
        check_network(checked["n_hidden"], limits, n_input=2 * n_columns, inputs=at_least)
    return values


@dataclass
class ModelSpec:
    """What a model is trained on and how (the native API's model body)."""

    dataset: str | None
    columns: list[str] | None = None
    categorical: list[str] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    eval_dataset: str | None = None
    label_column: str | None = None
    normal_value: str | int | float | None = None


@dataclass
class ModelView:
    """A model as the native API shows it."""

    network: Network
    spec: ModelSpec
    aliases: dict[str, int]
    latest_version: int | None
    training: bool
    last_training: TrainingRun | None = None
    """Its newest training run (any status), for showing what training last did."""
    last_trained_at: datetime | None = None
    """When its newest successful training ended."""


def _queued_order(run: TrainingRun) -> tuple[bool, datetime, int, int]:
    """Sort key of training runs, oldest queued first (runs without a time first)."""
    return (run.created_at is not None, run.created_at or datetime.min, run.network_version, run.seq)


def _column_list(value: Any, name: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(c, str) and c.strip() for c in value):
        raise InvalidInput(f"{name} must be a list of column names", field=name)
    if len(set(value)) != len(value):
        raise InvalidInput(f"{name} lists a column more than once", field=name)
    return list(value)


class ModelService:
    """Create, show, change and delete models; train them; resolve versions and aliases."""

    def __init__(
        self,
        registry: Registry,
        workflow: WorkflowService,
        datasets: DatasetService,
        catalog: DatasetCatalog,
        networks: NetworkService,
        training: TrainingService,
    ) -> None:
        self._registry = registry
        self._workflow = workflow
        self._datasets = datasets
        self._catalog = catalog
        self._networks = networks
        self._training = training

    # --- checking -----------------------------------------------------------------------------
    def check_spec(self, spec: ModelSpec) -> ModelSpec:
        """The spec with every reference resolved, or ``InvalidInput`` naming the field at fault."""
        if spec.dataset is None:
            raise InvalidInput("dataset is required: the id of an uploaded dataset", field="dataset")
        available = self._catalog.column_names(spec.dataset)
        columns = _column_list(spec.columns, "columns")
        categorical = _column_list(spec.categorical, "categorical")
        eval_columns = self._catalog.column_names(spec.eval_dataset) if spec.eval_dataset else None
        if columns is not None:
            unknown = [c for c in columns if c not in available]
            if unknown:
                raise InvalidInput(
                    f"columns names column(s) that dataset {spec.dataset} does not have: {listed(unknown)} "
                    f"(it has: {listed(available)})",
                    field="columns",
                    column=unknown[0],
                )
            if not columns:
                raise InvalidInput(
                    "columns is empty: name the columns to model, or leave it out for all", field="columns"
                )
        if spec.label_column is not None:
            _check_label(spec.label_column, available, eval_columns, columns)
        features = columns if columns is not None else [c for c in available if c != spec.label_column]
        if not features:
            raise InvalidInput("no column is left to model", field="columns")
        unused = [c for c in categorical or [] if c not in features]
        if unused:
            raise InvalidInput(
                f"categorical names column(s) the model does not use: {listed(unused)}",
                field="categorical",
                column=unused[0],
            )
        lacking = [c for c in features if eval_columns is not None and c not in eval_columns]
        if lacking:
            raise InvalidInput(
                f"eval_dataset {spec.eval_dataset} lacks the model column(s) {listed(lacking)}",
                field="eval_dataset",
                column=lacking[0],
            )
        normal = spec.normal_value
        if normal is not None and (isinstance(normal, bool) or not isinstance(normal, str | int | float)):
            raise InvalidInput(
                f"normal_value must be a string or a number, got {quoted(normal)}", field="normal_value"
            )
        checked = replace(
            spec,
            columns=columns,
            categorical=categorical or None,
            params=check_params(spec.params, self._workflow.limits, len(features)),
        )
        self._check_budget(checked, features)
        return checked

    def _check_budget(self, spec: ModelSpec, features: list[str]) -> None:
        """Refuse (413) a model whose training would exceed the training budget, estimated from
        its dataset's rows and stored column summaries (distinct values per column)."""
        assert spec.dataset is not None
        dataset = self._catalog.get(spec.dataset)
        params = spec.params
        widths = summary_widths(dataset.columns, features, spec.categorical, params.get("vocab_size"))
        inputs = f"the model columns of dataset {spec.dataset}"
        hidden = params.get("n_hidden")
        check_training_budget(widths, hidden, dataset.rows, params, self._workflow.limits, inputs)

    # --- reading ------------------------------------------------------------------------------
    def config_version(self, name: str) -> int:
        """The workflow version that holds the model's configuration (the active one, else the newest)."""
        versions = self._registry.list_versions(check_nn_id(name))
        if not versions:
            raise NotFound(f"model '{name}' has no configuration: it was created over v1 without a version")
        return next((v.version for v in versions if v.active), versions[-1].version)

    def spec(self, name: str) -> ModelSpec:
        """The model's current configuration, read back from its nodes."""
        version = self.config_version(name)
        nodes = {n.name: n.config for n in self._registry.list_nodes(name, version)}
        feeder = nodes.get(TRAIN_FEED, {})
        netconf = nodes.get(NETCONF, {})
        evaluation = nodes.get(EVAL, {})
        native = netconf.get(NATIVE_PARAMS)
        if isinstance(native, dict):
            params = dict(native)
        else:
            renamed = {"iter": "epochs"}
            params = {
                renamed.get(k, k): v
                for k, v in netconf.items()
                if k in ("iter", "batch_size", "learning_rate", "n_hidden")
            }
            if "vocab_size" in feeder:
                params["vocab_size"] = feeder["vocab_size"]
        return ModelSpec(
            dataset=nodes.get(TRAIN_DATA, {}).get("dataset"),
            columns=feeder.get("encode_column") or None,
            categorical=feeder.get("categorical") or None,
            params=params,
            eval_dataset=nodes.get(EVAL_DATA, {}).get("dataset"),
            label_column=evaluation.get("label_column"),
            normal_value=evaluation.get("normal_value"),
        )

    def view(self, network: Network) -> ModelView:
        versions = self._registry.list_versions(network.nn_id)
        runs = [r for v in versions for r in self._registry.list_runs(network.nn_id, v.version)]
        numbers = [r.model_version for r in runs if r.model_version is not None]
        ended = [r.finished_at for r in runs if r.status is JobStatus.SUCCEEDED and r.finished_at is not None]
        return ModelView(
            network=network,
            spec=self.spec(network.nn_id) if versions else ModelSpec(None),
            aliases=self._registry.aliases(network.nn_id),
            latest_version=max(numbers, default=None),
            training=any(not r.status.finished for r in runs),
            last_training=max(runs, key=_queued_order, default=None),
            last_trained_at=max(ended, default=None),
        )

    def get(self, name: str) -> ModelView:
        return self.view(self._registry.get_network(check_nn_id(name)))

    def page(self, cursor: str | None, limit: int) -> tuple[list[ModelView], str | None]:
        """Models by name after ``cursor`` (a name), and the cursor of the next page."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be from 1 to {MAX_PAGE}, got {limit}", field="limit")
        networks = [n for n in self._registry.list_networks() if cursor is None or n.nn_id > cursor]
        page = networks[:limit]
        following = page[-1].nn_id if len(networks) > limit else None
        return [self.view(n) for n in page], following

    # --- changing -----------------------------------------------------------------------------
    def create(
        self, name: str, spec: ModelSpec, description: str = "", auto_promote: bool = True
    ) -> ModelView:
        """Create the model with its configuration; nothing is stored when a check fails."""
        check_nn_id(name)
        checked = self.check_spec(spec)
        try:
            self._registry.get_network(name)
        except NotFound:
            pass
        else:
            raise Conflict(
                f"model '{name}' already exists: change it, delete it, or choose another name",
                field="name",
                hint=Hint("change_model", model=name),
            )
        self._networks.create(name, {"nn_title": name, "nn_desc": description, "dir": AUTOENCODER_CSV})
        try:
            self._registry.update_network(name, {"auto_promote": auto_promote})
            version = self._networks.create_version(name, info="native API model configuration", active=True)
            self._workflow.init(name, version.version, AUTOENCODER_CSV)
            self._write_spec(name, version.version, checked)
        except BaseException:
            self._registry.delete_network(name)
            raise
        return self.get(name)

    def _write_spec(self, name: str, version: int, spec: ModelSpec) -> None:
        params = dict(spec.params)
        feeder: dict[str, Any] = {
            "encode_column": spec.columns or [],
            "vocab_size": params.get("vocab_size", _default("vocab_size")),
        }
        if spec.categorical:
            feeder["categorical"] = spec.categorical
        self._datasets.link_dataset(name, version, TRAIN_DATA, spec.dataset)
        self._workflow.set_feeder(name, version, TRAIN_FEED, feeder)
        self._workflow.update_config(
            name, version, NETCONF, NETCONF_NODE, lambda _old: {NATIVE_PARAMS: params}
        )
        self._datasets.link_dataset(name, version, EVAL_DATA, spec.eval_dataset)
        evaluation: dict[str, Any] = {"type": "anomaly"}
        if spec.label_column is not None:
            evaluation["label_column"] = spec.label_column
        if spec.normal_value is not None:
            evaluation["normal_value"] = spec.normal_value
        self._workflow.update_config(name, version, EVAL, EVAL_NODE, lambda _old: evaluation)
        self._workflow.update_config(name, version, "feed_test", FEED_NODE, lambda _old: {})

    def update(self, name: str, changes: Mapping[str, Any]) -> ModelView:
        """Change the given fields (the rest stay); refused while the model trains."""
        model = self.get(name)
        if model.training:
            raise Conflict(f"model '{name}' is training: change it when the job has finished", field="name")
        spec_fields = {k: v for k, v in changes.items() if k in ModelSpec.__dataclass_fields__}
        if spec_fields:
            merged = self.check_spec(replace(model.spec, **spec_fields))
            self._write_spec(name, self.config_version(name), merged)
        network: dict[str, Any] = {}
        if changes.get("description") is not None:
            network["nn_desc"] = changes["description"]
        if changes.get("auto_promote") is not None:
            network["auto_promote"] = changes["auto_promote"]
        if network:
            self._registry.update_network(name, network)
        return self.get(name)

    def delete(self, name: str) -> None:
        """Delete the model with its versions, files, jobs and the files its scoring jobs wrote;
        refused while it trains or scores a dataset."""
        self._registry.get_network(check_nn_id(name))
        try:
            self._networks.delete(name)
        except Conflict as exc:
            if exc.field == "job_id":  # a scoring job that has not finished: its message says so
                raise Conflict(exc.message, field="name") from exc
            raise Conflict(
                f"model '{name}' is training: cancel its job or wait, then delete it", field="name"
            ) from exc

    def train(self, name: str, *, feedback: bool = False) -> Job:
        """Queue a training of the model's current configuration (with ``feedback``: the
        operators' labels applied to the training rows, recorded in the version)."""
        self._registry.get_network(check_nn_id(name))
        spec = self.spec(name)
        removed = [p for p in spec.params if p in REMOVED]
        if removed:  # stored before the option was removed: the model's params must drop it
            message = unknown_parameter(removed[0]).message
            raise InvalidInput(f"the model's params set {message} of them", field=f"params.{removed[0]}")
        if feedback and not self._registry.list_feedback(name, limit=1):
            raise Conflict(
                f"model '{name}' has no labelled rows yet, so training with feedback would train as "
                "without it: label scored rows as anomaly or normal first, or train without feedback",
                field="feedback",
                hint=Hint("add_feedback", model=name),
            )
        if spec.dataset is not None:  # checked again now: the budget may have been lowered since
            available = self._catalog.column_names(spec.dataset)
            self._check_budget(spec, spec.columns or [c for c in available if c != spec.label_column])
        try:
            run = self._training.start(name, self.config_version(name), feedback=feedback)
        except Conflict as exc:
            raise Conflict(f"model '{name}' is already training: {exc.message}", field="name") from exc
        except AedetectError as exc:
            if exc.field in (TRAIN_DATA, "encode_column"):
                raise InvalidInput(exc.message, field="dataset") from exc
            raise
        assert run.job_id is not None
        return self._registry.get_job(run.job_id)

    # --- versions and aliases -----------------------------------------------------------------
    def versions(self, name: str) -> list[TrainingRun]:
        return self._registry.list_model_versions(check_nn_id(name))

    def version(self, name: str, number: int) -> TrainingRun:
        return self._registry.get_model_version(check_nn_id(name), number)

    def resolve(self, name: str, version: int | None = None, alias: str | None = None) -> TrainingRun:
        """The model version to use: by number, by alias, or ``production``."""
        check_nn_id(name)
        if version is not None and alias is not None:
            raise InvalidInput("give either version or alias, not both", field="version")
        if version is not None:
            return self._registry.get_model_version(name, version)
        return self._registry.resolve_alias(name, check_alias(alias or PRODUCTION))

    def set_alias(
        self, name: str, alias: str, version: int, actor: str | None = None, note: str | None = None
    ) -> AliasMove:
        return self._registry.set_alias(
            check_nn_id(name), check_alias(alias), version, actor=actor, note=note
        )

    def delete_alias(self, name: str, alias: str, actor: str | None = None) -> AliasMove:
        return self._registry.delete_alias(check_nn_id(name), check_alias(alias), actor=actor)

    def alias_moves(self, name: str, alias: str | None = None) -> list[AliasMove]:
        return self._registry.alias_moves(check_nn_id(name), None if alias is None else check_alias(alias))


def _check_label(
    label: str, available: list[str], eval_columns: list[str] | None, columns: list[str] | None
) -> None:
    """``InvalidInput`` unless ``label`` is a column of the evaluation data (else of the training
    data) and not also a model input."""
    holder, where = (eval_columns, "eval_dataset") if eval_columns is not None else (available, "dataset")
    if label not in holder:
        raise InvalidInput(
            f"label_column {quoted(label)} is not a column of the {where} (it has: {listed(holder)})",
            field="label_column",
            column=label,
        )
    if columns is not None and label in columns:
        raise InvalidInput(
            f"label_column {quoted(label)} is also listed in columns: a label is never a model "
            "input; remove it from columns",
            field="label_column",
            column=label,
        )


def check_alias(alias: str) -> str:
    """``alias`` if it is a valid alias name, else ``InvalidInput``."""
    if not ALIAS_PATTERN.fullmatch(alias):
        raise InvalidInput(
            f"invalid alias {quoted(alias)}: use 1-50 lower-case letters, digits, '_' or '-', "
            "starting with a letter",
            field="alias",
        )
    return alias
