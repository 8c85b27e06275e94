"""The autoencoder network: layers only. The estimator owns training, encoders and thresholds.

Inputs are the encoder's arrays (scaled numeric values, missing flags, category codes); categorical
codes enter through an embedding-sum layer, which is exactly a one-hot input times a weight matrix
but never materialises the one-hot vectors. Outputs: a linear value and a missing-flag logit per
numeric column, and one logit group (softmax) per categorical column.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
}


class AutoEncoderNet(nn.Module):
    """Encoder ``n_hidden``; the decoder mirrors it back to the input width."""

    def __init__(
        self, n_numeric: int, cardinalities: list[int], n_hidden: list[int], activation: str
    ) -> None:
        super().__init__()
        self.n_numeric = n_numeric
        self.cardinalities = list(cardinalities)
        act = ACTIVATIONS[activation]
        first = n_hidden[0]
        self.numeric_in = nn.Linear(2 * n_numeric, first) if n_numeric else None
        total = sum(cardinalities)
        self.categorical_in = nn.EmbeddingBag(total, first, mode="sum") if total else None
        if total:
            offsets = torch.tensor([0, *cardinalities[:-1]]).cumsum(0)
            self.register_buffer("code_offsets", offsets, persistent=False)
        self.code_offsets: torch.Tensor
        self.input_bias = nn.Parameter(torch.zeros(first))
        self.input_act = act()
        encoder: list[nn.Module] = []
        for a, b in pairwise(n_hidden):
            encoder += [nn.Linear(a, b), act()]
        self.encoder_rest = nn.Sequential(*encoder)
        sizes = list(reversed(n_hidden))
        decoder: list[nn.Module] = []
        for a, b in pairwise(sizes):
            decoder += [nn.Linear(a, b), act()]
        self.decoder = nn.Sequential(*decoder)
        self.output = nn.Linear(sizes[-1], 2 * n_numeric + total)
        self._init_categorical()

    def _init_categorical(self) -> None:
        if self.categorical_in is not None:
            # one-hot input through a linear layer: same scale as nn.Linear's default init
            bound = 1.0 / max(1, sum(self.cardinalities)) ** 0.5
            nn.init.uniform_(self.categorical_in.weight, -bound, bound)

    def encode(self, numeric: torch.Tensor, missing: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The bottleneck code of each row."""
        h = self.input_bias.expand(numeric.shape[0], -1)
        if self.numeric_in is not None:
            h = h + self.numeric_in(torch.cat([numeric, missing], dim=1))
        if self.categorical_in is not None:
            h = h + self.categorical_in(codes + self.code_offsets)
        return self.encoder_rest(self.input_act(h))

    def forward(
        self, numeric: torch.Tensor, missing: torch.Tensor, codes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction of each row: numeric values, missing-flag logits, category logits."""
        out = self.output(self.decoder(self.encode(numeric, missing, codes)))
        n = self.n_numeric
        return out[:, :n], out[:, n : 2 * n], out[:, 2 * n :]

    def column_errors(
        self,
        outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        target: torch.Tensor,
        missing: torch.Tensor,
        codes: torch.Tensor,
    ) -> torch.Tensor:
        """Per row and per original column: squared error plus missing-flag cross-entropy for a
        numeric column, cross-entropy for a categorical one. Columns: numeric first, then
        categorical, each in model order."""
        value, miss_logit, logits = outputs
        numeric_err = (1.0 - missing) * (value - target) ** 2 + F.binary_cross_entropy_with_logits(
            miss_logit, missing, reduction="none"
        )
        parts = [numeric_err]
        start = 0
        for j, card in enumerate(self.cardinalities):
            group = logits[:, start : start + card]
            parts.append(F.cross_entropy(group, codes[:, j], reduction="none").unsqueeze(1))
            start += card
        return torch.cat(parts, dim=1)

    def reconstruction_vector(self, outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """The reconstruction in encoded space: values, missing probabilities, one-hot probabilities."""
        value, miss_logit, logits = outputs
        parts = [value, torch.sigmoid(miss_logit)]
        start = 0
        for card in self.cardinalities:
            parts.append(torch.softmax(logits[:, start : start + card], dim=1))
            start += card
        return torch.cat(parts, dim=1)

    def input_vector(self, target: torch.Tensor, missing: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The encoded input: scaled values, missing flags, one-hot categories."""
        parts = [target, missing]
        parts += [F.one_hot(codes[:, j], card).to(target.dtype) for j, card in enumerate(self.cardinalities)]
        return torch.cat(parts, dim=1)
