"""The style losses on cases with known answers, iterate averaging, and the time-budget planner."""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from impasto.errors import BudgetError, OptionsError
from impasto.progress import Event, IterationEvent
from impasto.quality import QualityOptions, run_quality
from impasto.quality import engine as engine_module
from impasto.quality import plan as plan_module
from impasto.quality.engine import EMA
from impasto.quality.losses import (
    STYLE_LOSSES,
    SlicedLoss,
    StyleLoss,
    W2Loss,
    build_style_loss,
    gram,
    moments,
    rows,
    sqrtm_psd,
)
from impasto.quality.plan import Plan, Scale, fit_budget
from impasto.styles import Style


def gaussian_features(
    mean: torch.Tensor, std: torch.Tensor, rotation: torch.Tensor, n: int = 4096
) -> torch.Tensor:
    """(1, C, 1, n) features whose empirical mean and covariance are exactly ``mean`` and Q·diag(std²)·Qᵀ."""
    g = torch.Generator().manual_seed(1)
    z = torch.randn(n, len(mean), generator=g, dtype=torch.float64)
    z = z - z.mean(0)
    cov = z.T @ z / n
    z = z @ torch.linalg.inv(torch.linalg.cholesky(cov)).T  # whitened: mean 0, covariance I exactly
    x: torch.Tensor = (z * std) @ rotation.T + mean
    return x.T.float().reshape(1, len(mean), 1, n)


def rotation(c: int, seed: int = 0) -> torch.Tensor:
    q: torch.Tensor = torch.linalg.qr(
        torch.randn(c, c, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    )[0]
    return q


def test_sqrtm_squares_back() -> None:
    a = torch.randn(6, 6, dtype=torch.float64)
    spd = a @ a.T
    root = sqrtm_psd(spd)
    assert torch.allclose(root @ root, spd, atol=1e-8)


def test_w2_is_zero_for_identical_features() -> None:
    feats = torch.rand(1, 8, 12, 12)
    loss = W2Loss({"x": moments(feats)}, {"x": 1.0})
    assert float(loss({"x": feats})) == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize("rotated", [False, True])
def test_w2_matches_the_closed_form_for_two_gaussians(rotated: bool) -> None:
    """W₂² = ‖μ₁ − μ₂‖² + Σ(σ₁ − σ₂)² for covariances with common axes, relative to E‖f_target‖²."""
    c = 5
    q = rotation(c) if rotated else torch.eye(c, dtype=torch.float64)
    m1, m2 = (
        torch.tensor([1.0, 2, 0, -1, 3], dtype=torch.float64),
        torch.tensor([0.0, 2, 1, 1, 3], dtype=torch.float64),
    )
    s1, s2 = (
        torch.tensor([1.0, 2, 3, 0.5, 1], dtype=torch.float64),
        torch.tensor([2.0, 1, 3, 1.5, 0.2], dtype=torch.float64),
    )
    target, painting = gaussian_features(m2, s2, q), gaussian_features(m1, s1, q)
    loss = W2Loss({"x": moments(target)}, {"x": 1.0}, eps=0.0)
    expected = (m1 - m2).pow(2).sum() + (s1 - s2).pow(2).sum()
    second_moment = m2.pow(2).sum() + s2.pow(2).sum()
    assert float(loss({"x": painting})) == pytest.approx(float(expected / second_moment), rel=1e-3)


def w2_reference(painting: torch.Tensor, target: torch.Tensor) -> float:
    """W₂² between the Gaussian fits of two (1, C, H, W) feature maps, in float64, no ridge,
    relative to the target's second moment E‖f‖²."""
    fits = []
    for f in (painting, target):
        x = f.double()[0].reshape(f.shape[1], -1).T
        mean = x.mean(0)
        fits.append((mean, (x - mean).T @ (x - mean) / x.shape[0]))
    (m1, c1), (m2, c2) = fits
    root = sqrtm_psd(c2)
    cross = torch.trace(sqrtm_psd(root @ c1 @ root))
    w2 = (m1 - m2).pow(2).sum() + torch.trace(c1) + torch.trace(c2) - 2 * cross
    return float(w2 / (m2.pow(2).sum() + torch.trace(c2)))


@pytest.mark.parametrize("positions", [(3, 4), (8, 8)])  # fewer positions than channels, and more
def test_w2_matches_a_float64_reference_with_fewer_or_more_positions_than_channels(
    positions: tuple[int, int],
) -> None:
    g = torch.Generator().manual_seed(3)
    target = torch.rand(1, 32, 10, 10, generator=g)
    painting = torch.rand(1, 32, *positions, generator=g) * 1.5 + 0.2
    loss = W2Loss({"x": moments(target)}, {"x": 1.0})
    assert float(loss({"x": painting})) == pytest.approx(w2_reference(painting, target), rel=2e-3)


def test_sliced_is_zero_for_identical_features_and_positive_otherwise() -> None:
    feats = torch.rand(1, 8, 16, 16)
    loss = SlicedLoss({"x": feats[0].reshape(8, -1).T}, {"x": 1.0})
    for _ in range(3):  # new directions every evaluation
        assert float(loss({"x": feats})) == pytest.approx(0.0, abs=1e-6)
    assert float(loss({"x": feats.flip(1) * 2})) > 0.1
    # the order of the positions does not matter: a distribution, not a picture
    shuffled = feats.reshape(1, 8, -1)[..., torch.randperm(256)].reshape(1, 8, 16, 16)
    assert float(loss({"x": shuffled})) == pytest.approx(0.0, abs=1e-6)


def test_sliced_of_a_shift_in_one_dimension_is_the_shift_squared() -> None:
    target = torch.randn(1, 1, 10, 10)
    loss = SlicedLoss({"x": target[0].reshape(1, -1).T}, {"x": 1.0})
    shift = 0.7
    relative = shift**2 / float(target.pow(2).mean())
    assert float(loss({"x": target + shift})) == pytest.approx(relative, rel=1e-4)


def test_sliced_resamples_a_target_of_another_size() -> None:
    feats = torch.rand(1, 4, 8, 8)
    tiled = feats.repeat(1, 1, 2, 2)  # the same distribution, 4× the positions
    loss = SlicedLoss({"x": tiled[0].reshape(4, -1).T}, {"x": 1.0})
    assert float(loss({"x": feats})) < 0.01


@pytest.mark.parametrize("kind", STYLE_LOSSES)
def test_every_loss_is_float32_from_bfloat16_features_and_has_a_gradient(kind: str) -> None:
    torch.manual_seed(0)
    style = [{"x": torch.rand(1, 8, 12, 12), "y": torch.rand(1, 16, 6, 6)}]
    loss = build_style_loss(kind, style, [1.0], {"x": 0.5, "y": 0.5}, torch.Generator().manual_seed(0))
    painting = {k: torch.rand_like(v).to(torch.bfloat16).requires_grad_(True) for k, v in style[0].items()}
    value = loss(painting)
    assert value.dtype == torch.float32 and float(value) > 0
    value.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad.float()).all() for p in painting.values())
    # the style itself scores (about) zero under every loss
    assert float(loss(style[0])) < 0.05 * float(value)


def test_gram_loss_is_the_classic_one() -> None:
    a = torch.rand(1, 4, 8, 8)
    built = build_style_loss("gram", [{"x": a}], [1.0], {"x": 1.0}, torch.Generator())
    assert isinstance(built, StyleLoss)
    assert torch.allclose(built.targets["x"], gram(a))


def test_blends_mix_the_styles() -> None:
    a, b = torch.rand(1, 4, 8, 8), torch.rand(1, 4, 8, 8) + 1
    for kind in ("gram", "w2"):
        mixed = build_style_loss(kind, [{"x": a}, {"x": b}], [0.5, 0.5], {"x": 1.0}, torch.Generator())
        only_a = build_style_loss(kind, [{"x": a}, {"x": b}], [1.0, 0.0], {"x": 1.0}, torch.Generator())
        assert float(only_a({"x": a})) == pytest.approx(0.0, abs=1e-4)
        assert float(mixed({"x": a})) > 1e-3


def test_ema_is_bias_corrected() -> None:
    x = torch.full((1, 3, 2, 2), 0.4)
    average = EMA(x, 0.9)
    assert torch.allclose(average.get(), x)  # one value: that value, not 0.1 × it
    average.update(torch.full_like(x, 0.8))
    assert torch.allclose(average.get(), torch.full_like(x, (0.9 * 0.1 * 0.4 + 0.1 * 0.8) / (1 - 0.81)))


def test_fit_budget_spends_the_budget_and_no_more() -> None:
    plan = Plan((Scale((128, 96), 32), Scale((256, 192), 16), Scale((512, 384), 8)))
    costs = [0.1, 0.4, 1.6]
    fitted = fit_budget(plan, [2, 0, 0], costs, 30.0)
    spent = sum((s.iterations - d) * c for s, d, c in zip(fitted.scales, [2, 0, 0], costs, strict=True))
    assert spent <= 30.0 and [s.size for s in fitted.scales] == [s.size for s in plan.scales]
    assert spent > 30.0 - 1.6 - 0.4 - 0.1  # one more iteration at any scale would not fit... about
    shares = [s.iterations for s in fitted.scales]
    assert shares[0] > shares[1] > shares[2]  # shared as the plan shares them
    more = fit_budget(plan, [2, 0, 0], costs, 300.0)
    assert more.steps > fitted.steps
    broke = fit_budget(plan, [5, 0, 0], costs, -1.0)  # budget already spent: finish with the least
    assert [s.iterations for s in broke.scales] == [5, 1, 1]


def test_a_time_budget_plans_the_iterations(
    photo: Image.Image, starry: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a fake clock (every reading 0.5 s later), the plan follows the budget, not the defaults."""
    ticks = itertools.count()
    clock = SimpleNamespace(perf_counter=lambda: next(ticks) * 0.5, time_ns=time.time_ns)
    monkeypatch.setattr(engine_module, "time", clock)
    monkeypatch.setattr(engine_module, "seconds_per_unit", lambda _encoder, _opts: 1e-9)  # fast, it says
    runs = {}
    for budget in (16.0, 40.0):
        events: list[Event] = []
        opts = QualityOptions(size=32, time_budget=budget, style_loss="gram", precision="float32")
        result = run_quality(photo, [Style(starry)], opts, events.append)
        runs[budget] = result
        steps = [e for e in events if isinstance(e, IterationEvent)]
        assert steps[-1].step == result.plan.steps  # the events follow the replanned plan
        assert result.elapsed <= budget * 1.1
    assert runs[40.0].plan.steps > runs[16.0].plan.steps > 13
    assert QualityOptions().time_budget is None  # default runs stay deterministic: fixed iterations


def test_a_budget_never_starves_the_painting(
    photo: Image.Image, starry: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slower than the probe said: the run overruns its budget rather than stop short of the minimum
    (13 of the 26 iterations here), which would be the photo with faint strokes, called done."""
    ticks = itertools.count()
    clock = SimpleNamespace(perf_counter=lambda: next(ticks) * 0.5, time_ns=time.time_ns)
    monkeypatch.setattr(engine_module, "time", clock)
    monkeypatch.setattr(engine_module, "seconds_per_unit", lambda _encoder, _opts: 1e-9)  # fast, it says
    opts = QualityOptions(size=32, time_budget=4.0, style_loss="gram", precision="float32")
    result = run_quality(photo, [Style(starry)], opts)
    assert result.plan.steps == 13 and result.elapsed > 4.0


def test_a_budget_too_short_for_the_size_is_refused_before_painting(
    photo: Image.Image, starry: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a machine as slow as the probe says, the minimum does not fit: refused, with the time it
    needs and a size that fits; nothing is painted."""
    monkeypatch.setattr(engine_module, "seconds_per_unit", lambda _encoder, _opts: 4e-4)
    monkeypatch.setattr(plan_module, "FIXED_UNITS", 0)  # at 96 px the fixed part would swamp the sizes
    events: list[Event] = []
    opts = QualityOptions(size=96, time_budget=30.0, style_loss="gram", precision="float32")
    with pytest.raises(BudgetError, match=r"needs at least .* more than the time budget of 30 s") as caught:
        run_quality(photo, [Style(starry)], opts, events.append)
    assert not [e for e in events if isinstance(e, IterationEvent)]
    error = caught.value
    assert error.minimum > 30.0 and error.seconds > error.minimum
    assert error.largest_size is not None and error.largest_size < 96
    assert f"choose {error.largest_size} px or less" in str(error)
    smaller = QualityOptions(
        size=error.largest_size, time_budget=30.0, style_loss="gram", precision="float32"
    )
    run_quality(photo, [Style(starry)], smaller)  # and does: the advice is one that fits


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"style_loss": "gramm"}, "style loss"),
        ({"average": 1.0}, "average"),
        ({"time_budget": 0}, "time budget"),
    ],
)
def test_bad_new_options(options: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(OptionsError, match=message):
        QualityOptions(**options)


def test_moments_gradient_matches_autograd_of_the_plain_formula() -> None:
    g = torch.Generator().manual_seed(5)
    feats = torch.rand(1, 6, 5, 7, generator=g).contiguous(memory_format=torch.channels_last)
    weights = torch.rand(6, 6, generator=g), torch.rand(6, generator=g)
    grads = []
    for fn in (moments, lambda f: (rows(f).mean(0), rows(f).T @ rows(f) / rows(f).shape[0])):
        x = feats.clone().requires_grad_(True)
        mean, srm = fn(x)
        ((srm * weights[0]).sum() + (mean * weights[1]).sum()).backward()
        assert x.grad is not None
        grads.append(x.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
