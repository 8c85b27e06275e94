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
from aedetect.detectors.network import weights_per_member
from aedetect.detectors.params import PARAMETERS
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


def encoded_width(
    frame: pd.DataFrame, columns: Sequence[str], categorical: Sequence[str] | None, vocab_size: int | None
) -> int:
    """The encoded input width a detector fitted on ``frame`` will have: 2 per numeric column
    (value and missing flag), and per categorical column its vocabulary (the ``vocab_size`` most
    frequent values; None: the detector's default) plus the other/unseen and missing buckets."""
    vocab_size = PARAMETERS["vocab_size"].check(vocab_size)
    width = 0
    for spec in infer_column_specs(frame, list(columns), categorical):
        if spec.kind is ColumnKind.NUMERIC:
            width += 2
        else:
            width += min(vocab_size, int(frame[spec.name].nunique(dropna=True))) + 2
    return width


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
