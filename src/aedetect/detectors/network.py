"""The autoencoder networks: layers only. The estimator owns training, encoders and thresholds.

``EnsembleAutoEncoder`` holds ``n_members`` autoencoders of one shape and computes them together:
every hidden layer is one batched matrix product over a weight tensor of shape
(members, inputs, outputs), so an ensemble of 8 costs about one network 8 times as wide in a single
call, not 8 calls (on small layers the per-call overhead, not the arithmetic, is what costs).

Inputs are the encoder's arrays (scaled numeric values, missing flags, category codes); categorical
codes enter through an embedding-sum layer, which is exactly a one-hot input times a weight matrix
but never materialises the one-hot vectors. Outputs, per member: a linear value and a missing-flag
logit per numeric column, and one logit group (softmax) per categorical column.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from aedetect.errors import InvalidInput

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "elu": F.elu,
    "tanh": torch.tanh,
    "gelu": F.gelu,
}

Outputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""Per member: numeric values (E, B, n_numeric), missing-flag logits of the flagged numeric columns
(E, B, n_flagged) and the category logits of every categorical column side by side
(E, B, sum of cardinalities)."""


def resolve_device(device: str) -> torch.device:
    """The torch device for a ``device`` setting: "auto" is a CUDA GPU when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise InvalidInput(
            f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}", field="device"
        ) from exc


def weights_per_member(n_input: int, n_hidden: list[int]) -> int:
    """Weights of one autoencoder over ``n_input`` encoded inputs (biases left out): the input and
    output layers and the encoder layers with their mirror in the decoder. Also the multiply-adds
    of one row's forward pass, so what training and scoring time and memory grow with."""
    sizes = [n_input, *n_hidden, *reversed(n_hidden[:-1]), n_input]
    return sum(a * b for a, b in pairwise(sizes))


def macs_per_row(n_input: int, n_hidden: list[int], members: int) -> int:
    """Multiply-adds of one row's forward pass through all ``members``."""
    return members * weights_per_member(n_input, n_hidden)


def default_hidden(n_columns: int) -> list[int]:
    """Encoder widths for a table of ``n_columns`` columns: a first layer twice as wide, then a
    bottleneck of a quarter of the columns (2 to 32), so the network cannot learn the identity
    and must capture how columns relate."""
    return [int(min(256, max(16, 2 * n_columns))), int(max(2, min(32, n_columns // 4)))]


class EnsembleAutoEncoder(nn.Module):
    """``n_members`` autoencoders with encoder widths ``n_hidden``; each decoder mirrors its encoder.

    Members differ only by their random initial weights (and by what the estimator feeds each).
    """

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_hidden: list[int],
        activation: str,
        n_members: int = 1,
        flagged: list[int] | None = None,
        missing_penalty: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_numeric = n_numeric
        self.cardinalities = list(cardinalities)
        self.n_members = n_members
        self.activation = activation
        # missing flags enter and leave the network only for the numeric columns that had missing
        # values in training; elsewhere the flag was always 0, so a missing value costs the fixed
        # ``missing_penalty`` (the cross-entropy of an event never seen) instead of network width
        self.flagged = list(range(n_numeric)) if flagged is None else list(flagged)
        self.missing_penalty = float(missing_penalty)
        self.register_buffer("flag_index", torch.tensor(self.flagged, dtype=torch.long), persistent=False)
        self.flag_index: torch.Tensor
        first = n_hidden[0]
        total = sum(cardinalities)
        n_flags = len(self.flagged)
        self.n_input = n_numeric + n_flags + total
        # first layer: every member's weights side by side, so one product serves them all
        width_in = n_numeric + n_flags
        self.numeric_in = nn.Parameter(torch.empty(width_in, n_members * first)) if n_numeric else None
        self.categorical_in = nn.EmbeddingBag(total, n_members * first, mode="sum") if total else None
        if total:
            offsets = torch.tensor([0, *cardinalities[:-1]]).cumsum(0)
            self.register_buffer("code_offsets", offsets, persistent=False)
        self.code_offsets: torch.Tensor
        self.input_bias = nn.Parameter(torch.empty(n_members * first))
        sizes = [*n_hidden, *reversed(n_hidden[:-1])]
        self.code_layer = len(n_hidden) - 2  # index in ``weights`` of the layer giving the code
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in [*pairwise(sizes), (sizes[-1], self.n_input)]:
            self.weights.append(nn.Parameter(torch.empty(n_members, a, b)))
            self.biases.append(nn.Parameter(torch.empty(n_members, 1, b)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Each layer as ``nn.Linear`` initialises it: uniform in +-1/sqrt(fan_in)."""
        fan_in = max(1, self.n_input)
        bound = 1.0 / math.sqrt(fan_in)
        if self.numeric_in is not None:
            nn.init.uniform_(self.numeric_in, -bound, bound)
        if self.categorical_in is not None:
            nn.init.uniform_(self.categorical_in.weight, -bound, bound)
        nn.init.uniform_(self.input_bias, -bound, bound)
        for weight, bias in zip(self.weights, self.biases, strict=True):
            layer_bound = 1.0 / math.sqrt(weight.shape[1])
            nn.init.uniform_(weight, -layer_bound, layer_bound)
            nn.init.uniform_(bias, -layer_bound, layer_bound)

    def _first(self, numeric: torch.Tensor, missing: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The first hidden layer of every member, shape (E, B, n_hidden[0])."""
        h = self.input_bias.expand(numeric.shape[0], -1)
        if self.numeric_in is not None:
            inputs = torch.cat([numeric, missing[:, self.flag_index]], dim=1) if self.flagged else numeric
            h = torch.addmm(h, inputs, self.numeric_in)
        if self.categorical_in is not None:
            h = h + self.categorical_in(codes + self.code_offsets)
        h = ACTIVATIONS[self.activation](h)
        return h.view(h.shape[0], self.n_members, -1).transpose(0, 1)

    def _layers(self, h: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """The batched layers ``start`` to ``stop`` (inclusive; default: to the output)."""
        act = ACTIVATIONS[self.activation]
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            if i < start:
                continue
            if stop is not None and i > stop:
                break
            h = torch.baddbmm(bias, h, weight)
            if i < last:
                h = act(h)
        return h

    def encode(self, numeric: torch.Tensor, missing: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The bottleneck code of each row for each member, shape (E, B, n_hidden[-1])."""
        h = self._first(numeric, missing, codes)
        return h if self.code_layer < 0 else self._layers(h, stop=self.code_layer)

    def forward(self, numeric: torch.Tensor, missing: torch.Tensor, codes: torch.Tensor) -> Outputs:
        """Each member's reconstruction of each row (see :data:`Outputs`)."""
        return self._split(self._layers(self._first(numeric, missing, codes)))

    def forward_and_encode(
        self, numeric: torch.Tensor, missing: torch.Tensor, codes: torch.Tensor
    ) -> tuple[Outputs, torch.Tensor]:
        """:meth:`forward` and :meth:`encode` in one pass: the reconstructions and the codes."""
        code = self.encode(numeric, missing, codes)
        return self._split(self._layers(code, start=self.code_layer + 1)), code

    def _split(self, out: torch.Tensor) -> Outputs:
        n, flags = self.n_numeric, len(self.flagged)
        return out[..., :n], out[..., n : n + flags], out[..., n + flags :]

    def column_errors(
        self,
        outputs: Outputs,
        target: torch.Tensor,
        missing: torch.Tensor,
        codes: torch.Tensor,
        numeric_error: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per member, row and original column, shape (E, B, n_columns): for a numeric column the
        error of a present value plus the missing-flag cross-entropy, for a categorical one the
        cross-entropy. Columns: numeric first, then categorical, each in model order.

        The error of a present value is ``numeric_error`` (E, B, n_numeric) where the caller
        measures it in other units (scoring does), else the squared error (what training
        minimises); the result has ``numeric_error``'s dtype."""
        value, miss_logit, logits = outputs
        present = (value - target) ** 2 if numeric_error is None else numeric_error
        numeric_err = (1.0 - missing) * present + self.missing_penalty * missing
        if self.flagged:
            flags = missing[:, self.flag_index]
            flag_err = F.binary_cross_entropy_with_logits(
                miss_logit, flags.expand_as(miss_logit), reduction="none"
            )
            flag_part = (flag_err - self.missing_penalty * flags).to(numeric_err.dtype)
            numeric_err = numeric_err.index_add(2, self.flag_index, flag_part)
        parts = [numeric_err]
        members, rows = value.shape[0], value.shape[1]
        start = 0
        for j, card in enumerate(self.cardinalities):
            group = logits[..., start : start + card].reshape(members * rows, card)
            target_codes = codes[:, j].repeat(members)
            error = F.cross_entropy(group, target_codes, reduction="none")
            parts.append(error.view(members, rows, 1).to(numeric_err.dtype))
            start += card
        return torch.cat(parts, dim=2)

    def training_loss(
        self, outputs: Outputs, target: torch.Tensor, missing: torch.Tensor, codes: torch.Tensor
    ) -> torch.Tensor:
        """The sum over members of each member's mean :meth:`column_errors`, in fewer operations
        (what one training step minimises; a step is mostly per-operation overhead). In training
        a numeric column that is not flagged is never missing, so its error is the squared
        error alone."""
        value, miss_logit, logits = outputs
        rows = target.shape[0]
        squared = (value - target) ** 2
        if self.flagged:
            squared = squared * (1.0 - missing)
        total = squared.sum()
        if self.flagged:
            flags = missing[:, self.flag_index]
            total = total + F.binary_cross_entropy_with_logits(
                miss_logit, flags.expand_as(miss_logit), reduction="sum"
            )
        start = 0
        members = value.shape[0]
        for j, card in enumerate(self.cardinalities):
            group = logits[..., start : start + card].reshape(members * rows, card)
            total = total + F.cross_entropy(group, codes[:, j].repeat(members), reduction="sum")
            start += card
        return total / (rows * (self.n_numeric + len(self.cardinalities)))

    def reconstruction_vector(self, outputs: Outputs) -> torch.Tensor:
        """The members' mean reconstruction in encoded space, shape (B, n_input): values, missing
        probabilities, one-hot probabilities."""
        value, miss_logit, logits = outputs
        missing = value.new_zeros(value.shape)
        if self.flagged:
            missing[..., self.flag_index] = torch.sigmoid(miss_logit)
        parts = [value, missing]
        start = 0
        for card in self.cardinalities:
            parts.append(torch.softmax(logits[..., start : start + card], dim=-1))
            start += card
        return torch.cat(parts, dim=-1).mean(dim=0)

    def input_vector(self, target: torch.Tensor, missing: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The encoded input: scaled values, missing flags, one-hot categories."""
        parts = [target, missing]
        parts += [F.one_hot(codes[:, j], card).to(target.dtype) for j, card in enumerate(self.cardinalities)]
        return torch.cat(parts, dim=1)
