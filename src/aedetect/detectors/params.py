"""The hyperparameters of :class:`~aedetect.detectors.autoencoder.AutoEncoderDetector`, declared once.

Each :class:`Param` holds a parameter's type, range or choices, default and the one-line help the
dashboard and the API documentation show. :func:`check_params` validates a set of values against
the table (scikit-learn's ``_parameter_constraints`` idea), so the detector, the v1 and v2
services and the CLI all refuse a bad value with the same words, and the lists of names in the
documentation are generated here instead of written by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from aedetect.detectors.network import ACTIVATIONS
from aedetect.errors import InvalidInput

MAX_HIDDEN_UNITS = 65536
"""Widest layer accepted (wider ones cannot fit any cost limit the service allows)."""

MAX_SEED = 2**32 - 1
"""Largest ``random_state`` (numpy's seed range that every caller can store)."""


@dataclass(frozen=True)
class Param:
    """One hyperparameter: how a value is checked, what ``None`` means, and what the user is told.

    ``kind``: ``int`` (a positive integer, ``high`` the most), ``number`` (a finite number in the
    interval from ``low`` to ``high``, each end closed where ``closed`` says), ``choice`` (one of
    ``choices``), ``widths`` (a non-empty list of layer widths), ``names`` (a list of column names),
    ``seed`` (an integer from 0 to :data:`MAX_SEED`) or ``text``. ``default`` is the constructor's
    default; ``auto`` the value ``None`` stands for when the library fills it in without the data
    (None: the value stays None until ``fit`` chooses it, or None is itself the setting).
    ``service``: whether a model's configuration sets it (not the columns, device or threads,
    which come from the request and the server)."""

    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    closed: tuple[bool, bool] = (True, False)
    choices: tuple[str, ...] = ()
    auto: Any = None
    nullable: bool = False
    service: bool = True

    def check(self, value: Any) -> Any:
        """The value as the detector uses it (``None`` filled with ``auto``), or ``InvalidInput``
        naming the parameter, the rule and the value."""
        if value is None and (self.nullable or self.auto is not None):
            return self.auto
        checker = _CHECKS[self.kind]
        result = checker(self, value)
        if result is _BAD:
            raise InvalidInput(f"{self.name} must be {self.rule()}, got {value!r}", field=self.name)
        return result

    def rule(self) -> str:
        """What a valid value is, in words (the error message's middle)."""
        if self.kind == "int":
            return "a positive integer" if self.high is None else f"an integer from 1 to {self.high:g}"
        if self.kind == "number":
            left, right = ("[" if self.closed[0] else "("), ("]" if self.closed[1] else ")")
            rule = f"a number in {left}{self.low:g}, {self.high:g}{right}"
            return rule + (" or None (errors counted linearly)" if self.nullable else "")
        if self.kind == "choice":
            return f"one of {', '.join(self.choices)}"
        if self.kind == "widths":
            return f"a non-empty list of layer widths from 1 to {MAX_HIDDEN_UNITS}"
        if self.kind == "seed":
            return f"an integer from 0 to {MAX_SEED}"
        if self.kind == "names":
            return "a list of column names"
        return "a string"


_BAD = object()
"""What a kind's check returns for a value it refuses."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check_int(param: Param, value: Any) -> Any:
    if not _is_int(value) or value < 1 or (param.high is not None and value > param.high):
        return _BAD
    return int(value)


def _check_number(param: Param, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return _BAD
    low, high = float(param.low or 0.0), float(param.high or math.inf)
    lower_ok = value >= low if param.closed[0] else value > low
    upper_ok = value <= high if param.closed[1] else value < high
    return float(value) if math.isfinite(value) and lower_ok and upper_ok else _BAD


def _check_choice(param: Param, value: Any) -> Any:
    return str(value) if isinstance(value, str) and value in param.choices else _BAD


def _check_widths(param: Param, value: Any) -> Any:
    if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
        return _BAD
    widths = list(value)
    if not widths or not all(_is_int(h) and 1 <= h <= MAX_HIDDEN_UNITS for h in widths):
        return _BAD
    return [int(h) for h in widths]


def _check_seed(param: Param, value: Any) -> Any:
    return int(value) if _is_int(value) and 0 <= value <= MAX_SEED else _BAD


def _check_names(param: Param, value: Any) -> Any:
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return _BAD
    return [str(c) for c in value]


def _check_text(param: Param, value: Any) -> Any:
    return str(value) if isinstance(value, str) else _BAD


_CHECKS = {
    "int": _check_int,
    "number": _check_number,
    "choice": _check_choice,
    "widths": _check_widths,
    "seed": _check_seed,
    "names": _check_names,
    "text": _check_text,
}

PARAMETERS: dict[str, Param] = {
    p.name: p
    for p in (
        Param(
            "columns",
            "names",
            None,
            "Ordered columns to model (default: every column).",
            nullable=True,
            service=False,
        ),
        Param(
            "categorical",
            "names",
            None,
            "Numeric columns to treat as categories.",
            nullable=True,
            service=False,
        ),
        Param(
            "vocab_size", "int", 10, "Most frequent values one-hot encoded per categorical column.", auto=10
        ),
        Param(
            "n_hidden",
            "widths",
            None,
            "Encoder layer widths towards the bottleneck (default: from the column count).",
            nullable=True,
        ),
        Param("n_estimators", "int", None, "Autoencoders in the ensemble; the score is their mean.", auto=8),
        Param(
            "epochs",
            "int",
            None,
            "Most passes over the training rows (early stopping ends sooner).",
            auto=100,
        ),
        Param(
            "batch_size",
            "int",
            None,
            "Rows per optimiser step (default: rows / 64, 32 to 256).",
            nullable=True,
        ),
        Param(
            "learning_rate",
            "number",
            None,
            "Adam step size, halved when the loss stalls.",
            low=0.0,
            high=10.0,
            closed=(False, True),
            auto=1e-3,
        ),
        Param(
            "contamination",
            "number",
            0.01,
            "Expected anomaly share of the training rows; sets the threshold.",
            low=0.0,
            high=0.5,
            closed=(False, True),
        ),
        Param(
            "validation_fraction",
            "number",
            0.1,
            "Rows held out for early stopping (0: none).",
            low=0.0,
            high=0.5,
        ),
        Param(
            "patience",
            "int",
            None,
            "Epochs without a 1 % better validation loss before training stops.",
            auto=5,
        ),
        Param(
            "magnitude_weight",
            "number",
            0.3,
            "Weight of how extreme the reconstructed values are.",
            low=0.0,
            high=100.0,
        ),
        Param(
            "error_knee",
            "number",
            20.0,
            "Column errors past this many training means count logarithmically.",
            low=0.0,
            high=math.inf,
            closed=(False, False),
            nullable=True,
        ),
        Param("activation", "choice", "relu", "Hidden layer activation.", choices=tuple(ACTIVATIONS)),
        Param("weight_decay", "number", 0.0, "Adam weight decay.", low=0.0, high=1.0),
        Param(
            "random_state",
            "seed",
            None,
            "Seed for weights and shuffling: same seed, same model.",
            nullable=True,
        ),
        Param("device", "text", "auto", "Where to compute: auto, cpu or cuda[:N].", service=False),
        Param(
            "n_threads",
            "int",
            None,
            "Torch threads (default: chosen from the network's size).",
            nullable=True,
            service=False,
        ),
    )
}
"""Every constructor parameter of the detector, in the order ``effective_params_`` lists them."""

REMOVED: dict[str, str] = {
    "clip_quantile": "inputs are clipped to the training range",
    "numeric_transform": "numeric columns are scaled by asinh of robust units",
    "latent_weight": "scores have no latent part",
}
"""Parameters that earlier releases took and this one does not, with what the detector now does
always (each was an experiment the defaults did not use; see BENCHMARKS.md)."""


def check_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of the table, checked and with ``None`` filled in where the library does
    so without the data; ``InvalidInput`` naming the first bad or unknown one."""
    unknown = [name for name in values if name not in PARAMETERS]
    if unknown:
        raise unknown_parameter(unknown[0])
    return {name: param.check(values.get(name, param.default)) for name, param in PARAMETERS.items()}


def unknown_parameter(name: str) -> InvalidInput:
    """The error for a name the table does not hold: removed ones say so and what happens now."""
    if name in REMOVED:
        return InvalidInput(f"{name} was removed from aedetect ({REMOVED[name]}); leave it out", field=name)
    names = ", ".join(PARAMETERS)
    return InvalidInput(f"unknown parameter {name!r}; parameters are: {names}", field=name)


def service_parameters() -> dict[str, Param]:
    """The parameters a model's configuration sets (by the library's own names)."""
    return {name: p for name, p in PARAMETERS.items() if p.service}


def describe_params() -> str:
    """The API documentation's description of the model ``params`` field, from the table."""
    names = ", ".join(service_parameters())
    return f"Detector parameters by the library's own names: {names}. Missing ones take the library defaults."


def default_text(param: Param) -> str:
    """A parameter's default as a person reads it ("auto" where the library chooses)."""
    value = param.auto if param.default is None else param.default
    if value is None:
        return "auto"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
