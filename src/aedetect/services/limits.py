"""Bounds on what one request may cost, checked before its work starts.

Each refusal names the limit and the setting that raises it: a ``PayloadTooLarge`` (413) where it
is about size (rows, text, network weights and layers), an ``InvalidInput`` (400) otherwise
(epochs). The values come from :class:`aedetect.config.Settings` through :mod:`aedetect.bootstrap`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from aedetect.data.schema import infer_column_specs
from aedetect.detectors.network import default_hidden, weights_per_member
from aedetect.detectors.params import PARAMETERS
from aedetect.detectors.reading import SCORE_CHUNK_ROWS
from aedetect.detectors.training import default_batch_size
from aedetect.domain import ColumnKind
from aedetect.errors import InvalidInput, PayloadTooLarge, TooManyRequests


@dataclass(frozen=True)
class Limits:
    """The cost bounds of the service (each one an ``AEDETECT_MAX_*`` setting)."""

    max_text_chars: int = 10_000
    max_list_items: int = 10_000
    max_predict_rows: int = 50_000
    max_network_weights: int = 20_000_000
    max_network_layers: int = 16
    max_epochs: int = 10_000
    max_queued_trainings: int = 8
    train_retry_after_s: int = 30
    train_budget_mb: int = 1536


def check_training_queue(queued: int, limits: Limits, retry_after: float | None) -> None:
    """Refuse a training while ``queued`` trainings already wait for a worker (``TooManyRequests``,
    429), saying when to try again: ``retry_after`` seconds (the soonest estimated end of a running
    training) when known, else the configured default."""
    if queued < limits.max_queued_trainings:
        return
    wait = limits.train_retry_after_s if retry_after is None else max(1, min(86_400, math.ceil(retry_after)))
    raise TooManyRequests(
        f"{queued} trainings already wait for a worker, the limit of {limits.max_queued_trainings} "
        f"(AEDETECT_MAX_QUEUED_TRAININGS): nothing was queued; send the request again in {wait} s",
        retry_after=wait,
    )


def check_rows(n_rows: int, limits: Limits, field: str = "input_data") -> None:
    """Refuse a scoring request of more rows than ``max_predict_rows`` (``field``: where the API
    takes them)."""
    if n_rows > limits.max_predict_rows:
        raise PayloadTooLarge(
            f"{field} holds {n_rows} rows, over the limit of {limits.max_predict_rows} rows per "
            "request (AEDETECT_MAX_PREDICT_ROWS): send them in smaller batches",
            field=field,
        )


def check_text_sizes(values: Mapping[str, Any], limits: Limits, where: str = "") -> None:
    """Refuse a settings object holding a string longer than ``max_text_chars`` or a list longer
    than ``max_list_items`` (at any depth), naming the field: what is stored is returned by every
    listing, so its size is bounded when it is set."""
    for key, value in values.items():
        field = f"{where}.{key}" if where else str(key)
        if isinstance(value, str) and len(value) > limits.max_text_chars:
            raise PayloadTooLarge(
                f"{field} has {len(value)} characters, over the limit of {limits.max_text_chars} "
                "(AEDETECT_MAX_TEXT_CHARS)",
                field=field,
            )
        if isinstance(value, list):
            if len(value) > limits.max_list_items:
                raise PayloadTooLarge(
                    f"{field} has {len(value)} items, over the limit of {limits.max_list_items} "
                    "(AEDETECT_MAX_CSV_COLUMNS)",
                    field=field,
                )
            check_text_sizes({f"{key}[{i}]": item for i, item in enumerate(value)}, limits, where)
        elif isinstance(value, Mapping):
            check_text_sizes(value, limits, field)


def column_widths(
    frame: pd.DataFrame, columns: Sequence[str], categorical: Sequence[str] | None, vocab_size: int | None
) -> list[tuple[ColumnKind, int]]:
    """Each model column's kind and encoded width as a detector fitted on ``frame`` encodes it
    (their sum is the network's input width)."""
    return [
        (spec.kind, column_width(spec.kind, int(frame[spec.name].nunique(dropna=True)), vocab_size))
        for spec in infer_column_specs(frame, list(columns), categorical)
    ]


def column_width(kind: ColumnKind, distinct: int, vocab_size: int | None) -> int:
    """One column's encoded width: 2 for a numeric one (value and missing flag); for a categorical
    one its vocabulary (at most ``vocab_size`` of its ``distinct`` values; None: the detector's
    default) plus the other/unseen and missing buckets."""
    if kind is ColumnKind.NUMERIC:
        return 2
    return min(PARAMETERS["vocab_size"].check(vocab_size), distinct) + 2


def check_layers(n_layers: int, limits: Limits) -> None:
    """Refuse more encoder layers than ``max_network_layers``."""
    if n_layers > limits.max_network_layers:
        raise PayloadTooLarge(
            f"n_hidden has {n_layers} layers, over the limit of {limits.max_network_layers} "
            "(AEDETECT_MAX_NETWORK_LAYERS)",
            field="n_hidden",
        )


def check_network(n_hidden: Sequence[int], limits: Limits, *, n_input: int = 2, inputs: str = "") -> None:
    """Refuse a network of more layers or weights than the limits allow. ``n_input`` is the
    encoded input width if known, else a lower bound (2 per model column); ``inputs`` says what it
    counts, for the message. The weights are counted as the detector counts one member's."""
    check_layers(len(n_hidden), limits)
    weights = weights_per_member(n_input, list(n_hidden))
    if weights > limits.max_network_weights:
        counted = f" with {inputs}" if inputs else ""
        raise PayloadTooLarge(
            f"n_hidden {list(n_hidden)[:8]}{'...' if len(n_hidden) > 8 else ''} makes a network of "
            f"{weights:,} weights{counted}, over the limit of {limits.max_network_weights:,} "
            "(AEDETECT_MAX_NETWORK_WEIGHTS): use narrower layers",
            field="n_hidden",
        )


def check_epochs(epochs: int | None, limits: Limits, field: str = "iter") -> None:
    """Refuse more passes over the data than ``max_epochs`` (``field``: what the API calls them)."""
    if isinstance(epochs, int) and epochs > limits.max_epochs:
        raise InvalidInput(
            f"{field} must be at most {limits.max_epochs} (AEDETECT_MAX_EPOCHS), got {epochs}", field=field
        )


BUDGET_SETTING = "AEDETECT_TRAIN_BUDGET_MB"


def _param(params: Mapping[str, Any], name: str) -> Any:
    """A detector parameter as the detector will use it (unset: its default)."""
    value = params.get(name)
    return PARAMETERS[name].check(PARAMETERS[name].default if value is None else value)


def training_bytes(width: int, n_hidden: Sequence[int], rows: int, params: Mapping[str, Any]) -> int:
    """Estimated peak memory in bytes that training a detector with ``params`` on ``rows`` rows of
    ``width`` encoded inputs adds to its process (the larger of the two parts is what counts):

    - the network (this function): each member's weights (:func:`weights_per_member`) four
      times over (weights, gradients, Adam's two moments) and once more for the best weights
      kept, in float32; plus the rows it computes at once (a scoring chunk of
      ``SCORE_CHUNK_ROWS / members``, the validation rows or a batch) times per row and member
      3.3 floats per input/output unit (logits, softmax, errors) and 1 per hidden unit;
    - the IsolationForest baseline: a dense one-hot matrix of the rows (16 bytes per row and
      encoded input over its copies) and each categorical column's identity matrix
      (``vocabularies``: their widths) (:func:`baseline_bytes`).

    Calibrated against ``resource.getrusage`` peaks of real trainings (detector fit, baseline,
    scoring of the training rows; 1 thread, 8 members, 5,000 rows unless said): a column of 10k
    possible values at vocab_size 10000 grew the process by 1,667 MB (estimate 1,654), at 3000
    values 1,025 MB (1,028); n_hidden [2048, 2048] over 20 numeric columns 1,977 MB (2,089);
    20,000 rows of 12 columns 153 MB (24, plus the data frame itself, which is not counted).
    """
    members = int(_param(params, "n_estimators"))
    validation = float(_param(params, "validation_fraction"))
    batch = params.get("batch_size") or default_batch_size(int(rows * (1.0 - validation)))
    at_once = max(min(rows, max(1024, SCORE_CHUNK_ROWS // members)), int(rows * validation), int(batch))
    hidden = [*n_hidden, *reversed(list(n_hidden)[:-1])]
    per_row = members * 4 * (33 * width + 10 * sum(hidden)) // 10
    return members * weights_per_member(width, list(n_hidden)) * 4 * 5 + at_once * per_row


def baseline_bytes(width: int, rows: int, vocabularies: Sequence[int]) -> int:
    """Peak bytes of the IsolationForest baseline's dense matrix (see :func:`training_bytes`)."""
    return 16 * rows * width + 4 * sum(v * v for v in vocabularies)


def check_training_budget(
    widths: Sequence[tuple[ColumnKind, int]],
    n_hidden: Sequence[int] | None,
    rows: int,
    params: Mapping[str, Any],
    limits: Limits,
    inputs: str = "",
) -> None:
    """Refuse (413, naming ``AEDETECT_TRAIN_BUDGET_MB``) a training of ``rows`` rows whose model
    columns encode to ``widths`` (:func:`column_widths`) when its estimated memory
    (:func:`training_bytes`, :func:`baseline_bytes`) is over the budget, before anything is
    allocated; the message says what to lower. ``n_hidden`` None: the detector's default."""
    width = sum(w for _, w in widths)
    vocabularies = [w - 2 for kind, w in widths if kind is ColumnKind.CATEGORICAL]
    n_hidden = list(n_hidden) if n_hidden else default_hidden(len(widths))
    needed = max(training_bytes(width, n_hidden, rows, params), baseline_bytes(width, rows, vocabularies))
    budget = limits.train_budget_mb * 2**20
    if needed <= budget:
        return
    counted = f" ({inputs})" if inputs else ""
    largest = max(vocabularies, default=0)
    raise PayloadTooLarge(
        f"training would need about {needed // 2**20:,} MB for {rows:,} rows of {width:,} encoded "
        f"inputs{counted} and n_hidden {list(n_hidden)[:8]}, over the training budget of "
        f"{limits.train_budget_mb:,} MB ({BUDGET_SETTING}): lower vocab_size"
        + (f" (a categorical column has {largest:,} values)" if largest else "")
        + ", use narrower n_hidden or fewer members (n_estimators), model fewer columns or "
        f"categorical columns, or raise {BUDGET_SETTING} on a machine with the memory",
        field="params",
    )


def summary_widths(
    summaries: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    categorical: Sequence[str] | None,
    vocab_size: int | None,
) -> list[tuple[ColumnKind, int]]:
    """:func:`column_widths` from a dataset's stored column summaries (``name``, ``kind``,
    ``distinct``), for checking a training before its data is read."""
    by_name = {str(c["name"]): c for c in summaries}
    forced = set(categorical or ())
    widths = []
    for name in columns:
        summary = by_name.get(name, {})
        kind = ColumnKind.CATEGORICAL if name in forced else ColumnKind(summary.get("kind", "numeric"))
        widths.append((kind, column_width(kind, int(summary.get("distinct", 0)), vocab_size)))
    return widths
