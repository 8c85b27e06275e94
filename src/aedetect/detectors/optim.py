"""Adam over one flat buffer: the optimiser of the detector's small networks.

A tabular autoencoder's step is microseconds of arithmetic, so what a step costs is the number of
tensor operations and the Python around them. ``torch.optim.Adam`` spends more time in its
bookkeeping (hooks, grouping tensors by device, one update per parameter tensor) than in the
update, and its first use imports ``torch._dynamo`` (seconds, on every fresh process). Here every
parameter and every gradient of the module is a view into one contiguous buffer, so zeroing the
gradients is one operation and the Adam update is six, whatever the number of layers.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FlatAdam:
    """Adam (Kingma & Ba 2015, as ``torch.optim.Adam`` computes it, with L2 ``weight_decay``) for
    every parameter of ``module``, whose parameters and gradients it moves into flat buffers.

    Use as a context manager: on exit the parameters get storage of their own again, so the
    module saves, copies and loads as any other (nothing outside training sees the buffers).
    """

    def __init__(
        self,
        module: nn.Module,
        lr: float,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = [p for p in module.parameters() if p.requires_grad]
        first = self.params[0]
        total = sum(p.numel() for p in self.params)
        self.flat = torch.empty(total, dtype=first.dtype, device=first.device)
        self.grad = torch.zeros_like(self.flat)
        offset = 0
        for p in self.params:
            size = p.numel()
            view = self.flat[offset : offset + size].view_as(p)
            view.copy_(p.detach())
            p.data = view
            # a gradient that exists is accumulated in place by backward, so it stays in the buffer
            p.grad = self.grad[offset : offset + size].view_as(p)
            offset += size
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.steps = 0
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)
        self._denominator = torch.empty_like(self.flat)
        self._released = False

    def __enter__(self) -> FlatAdam:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def zero_grad(self) -> None:
        """Set every gradient to zero (one operation)."""
        self.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter from the accumulated gradients."""
        self.steps += 1
        grad = self.grad
        if self.weight_decay:
            grad = grad.add(self.flat, alpha=self.weight_decay)
        self.exp_avg.lerp_(grad, 1.0 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1.0 - self.beta2)
        correction1 = 1.0 - self.beta1**self.steps
        correction2 = 1.0 - self.beta2**self.steps
        torch.sqrt(self.exp_avg_sq, out=self._denominator)
        self._denominator.div_(math.sqrt(correction2)).add_(self.eps)
        self.flat.addcdiv_(self.exp_avg, self._denominator, value=-self.lr / correction1)

    def release(self) -> None:
        """Give each parameter storage of its own again and drop the gradients (safe to call
        more than once)."""
        if self._released:
            return
        for p in self.params:
            p.data = p.data.clone()
            p.grad = None
        self._released = True
