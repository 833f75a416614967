"""L-BFGS for painting: one evaluation per iteration, and a curvature estimate that carries across scales.

PyTorch's ``torch.optim.LBFGS`` starts every run with a plain gradient step of length
``min(1, 1/‖g‖₁)``: for an image of 200 000 pixels that step is tiny, so the first evaluation of
every scale is wasted. Here the first step is sized instead — from the curvature the previous,
coarser scale measured (rescaled for the pixel count), or, at the first scale, so that the pixel
that moves most moves by ``first_step`` of the 0..1 range. After that it is textbook L-BFGS
(two-loop recursion, no line search, step length ``lr``), as Gatys-style painters use it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


class LBFGS:
    """Limited-memory BFGS over one tensor, one closure evaluation per :meth:`step`.

    ``curvature`` seeds the initial inverse-Hessian scale (what :attr:`curvature` reported at
    the end of an earlier run, rescaled by the caller); ``None`` sizes the first step by
    ``first_step`` instead.
    """

    def __init__(
        self,
        param: Tensor,
        *,
        lr: float = 1.0,
        history_size: int = 50,
        first_step: float = 0.05,
        curvature: float | None = None,
    ) -> None:
        self.param, self.lr, self.history_size, self.first_step = param, lr, history_size, first_step
        self.curvature = curvature  # γ = sᵀy / yᵀy of the latest pair: H₀ = γ·I
        self.steps: list[Tensor] = []  # s_k = x_{k+1} − x_k
        self.grad_changes: list[Tensor] = []  # y_k = g_{k+1} − g_k
        self._previous: tuple[Tensor, Tensor] | None = None  # (x, g) of the last evaluation

    def zero_grad(self) -> None:
        self.param.grad = None

    def step(self, closure: Callable[[], Tensor]) -> Tensor:
        """Evaluate the loss (and its gradient) where the parameter is, then move it once."""
        loss = closure()
        grad = self.param.grad
        if grad is None:
            raise RuntimeError("the closure must call backward() on the loss")
        with torch.no_grad():
            x, g = self.param.detach().flatten().clone(), grad.detach().flatten().clone()
            if self._previous is not None:
                self._remember(x - self._previous[0], g - self._previous[1])
            self._previous = (x, g)
            largest = float(g.abs().max())
            if largest == 0.0 or not torch.isfinite(g).all():
                return loss  # at a stationary point (or lost): nothing to do
            direction = self._direction(g)
            if self.curvature is None:  # nothing known yet: a sized gradient step
                direction = direction * (self.first_step / largest)
            self.param.add_(direction.view_as(self.param), alpha=self.lr)
        return loss

    def _remember(self, s: Tensor, y: Tensor) -> None:
        sy = float(s.dot(y))
        if sy <= 1e-10:  # not a descent pair (e.g. the clamp to 0..1 got in the way): skip it
            return
        if len(self.steps) == self.history_size:
            self.steps.pop(0)
            self.grad_changes.pop(0)
        self.steps.append(s)
        self.grad_changes.append(y)
        self.curvature = sy / float(y.dot(y))

    def _direction(self, g: Tensor) -> Tensor:
        """−H·g by the two-loop recursion, with H₀ = γ·I (γ = 1 while nothing is known)."""
        q = g.neg()
        alphas = []
        for s, y in zip(reversed(self.steps), reversed(self.grad_changes), strict=True):
            rho = 1.0 / float(y.dot(s))
            alpha = rho * float(s.dot(q))
            q.add_(y, alpha=-alpha)
            alphas.append((rho, alpha))
        q.mul_(self.curvature if self.curvature is not None else 1.0)
        pairs = zip(self.steps, self.grad_changes, strict=True)
        for (s, y), (rho, alpha) in zip(pairs, reversed(alphas), strict=True):
            beta = rho * float(y.dot(q))
            q.add_(s, alpha=alpha - beta)
        return q
