"""The painter's L-BFGS: textbook iterates, a first step that counts, curvature carried across scales."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from impasto.progress import Event, IterationEvent
from impasto.quality import QualityOptions, run_quality
from impasto.quality.optim import LBFGS
from impasto.styles import Style


def quadratic(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A well-posed convex problem ½xᵀAx − bᵀx with condition number ~100."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    a = q @ torch.diag(torch.logspace(0, 2, n, dtype=torch.float64)) @ q.T
    return a, torch.randn(n, generator=g, dtype=torch.float64)


def closure_for(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor):  # type: ignore[no-untyped-def]
    def closure() -> torch.Tensor:
        x.grad = None
        loss = 0.5 * x @ a @ x - b @ x
        loss.backward()
        return loss

    return closure


def test_reaches_the_minimum_of_a_quadratic() -> None:
    a, b = quadratic()
    x = torch.zeros(40, dtype=torch.float64, requires_grad=True)
    opt = LBFGS(x, history_size=10)
    for _ in range(100):
        opt.step(closure_for(x, a, b))
    assert torch.allclose(x.detach(), torch.linalg.solve(a, b), atol=1e-5)


def test_iterates_match_torch_lbfgs_after_the_first_step() -> None:
    """Same first step as torch's (sized to its rule), then the two-loop recursion must agree."""
    a, b = quadratic()
    ours = torch.zeros(40, dtype=torch.float64, requires_grad=True)
    theirs = torch.zeros(40, dtype=torch.float64, requires_grad=True)
    g0 = -b  # the gradient at 0
    torch_first = min(1.0, 1.0 / float(g0.abs().sum()))
    opt = LBFGS(ours, history_size=5, first_step=torch_first * float(g0.abs().max()))
    ref = torch.optim.LBFGS([theirs], lr=1, max_iter=1, history_size=5)
    for _ in range(12):
        opt.step(closure_for(ours, a, b))
        ref.step(closure_for(theirs, a, b))
        assert torch.allclose(ours.detach(), theirs.detach(), rtol=1e-9, atol=1e-12)


def test_a_known_curvature_makes_the_first_step_count() -> None:
    """With H₀ from an earlier run, the first step is a real (quasi-)Newton step, not a nudge."""
    a = 4.0 * torch.eye(30, dtype=torch.float64)  # curvature 4 everywhere: γ = 1/4 is exact
    b = torch.linspace(-1, 1, 30, dtype=torch.float64)
    cold = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    warm = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    LBFGS(cold).step(closure_for(cold, a, b))
    LBFGS(warm, curvature=0.25).step(closure_for(warm, a, b))
    assert torch.allclose(warm.detach(), b / 4)  # the minimiser, in one step
    assert float((cold.detach() - b / 4).norm()) > 0.5 * float((b / 4).norm())


def test_the_curvature_is_measured_as_it_goes() -> None:
    a = 4.0 * torch.eye(30, dtype=torch.float64)
    b = torch.linspace(-1, 1, 30, dtype=torch.float64)
    x = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    opt = LBFGS(x)
    assert opt.curvature is None
    for _ in range(2):
        opt.step(closure_for(x, a, b))
    assert opt.curvature == pytest.approx(0.25)


def test_no_scale_wastes_its_first_step(photo: Image.Image, starry: Image.Image) -> None:
    """torch.optim.LBFGS's first step barely moves a whole image: the second loss equalled the first."""
    events: list[Event] = []
    opts = QualityOptions(size=128, iterations=12, min_size=64)
    run_quality(photo, [Style(starry)], opts, events.append)
    steps = [e for e in events if isinstance(e, IterationEvent)]
    assert {e.scale for e in steps} == {1, 2}
    for scale in (1, 2):
        first, second = [e.losses["total"] for e in steps if e.scale == scale][:2]
        assert second < 0.97 * first, (scale, first, second)
