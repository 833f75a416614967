"""The small pieces of the quality engine: losses, the multi-scale plan, the memory planner."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from impasto.errors import OptionsError
from impasto.quality.losses import ContentLoss, StyleLoss, blend_grams, gram, tv_loss
from impasto.quality.memory import estimate_bytes, largest_long_side, parse_bytes
from impasto.quality.options import QualityOptions
from impasto.quality.plan import make_plan


def test_gram_is_normalised_by_positions() -> None:
    feats = torch.ones(1, 4, 10, 10)
    assert torch.allclose(gram(feats), torch.ones(1, 4, 4))
    tiled = torch.rand(1, 8, 16, 16)
    big = tiled.repeat(1, 1, 3, 3)  # the same texture over a 9× larger area
    assert torch.allclose(gram(tiled), gram(big), atol=1e-5)


def test_gram_is_float32_even_from_bfloat16() -> None:
    assert gram(torch.rand(1, 3, 4, 4, dtype=torch.bfloat16)).dtype == torch.float32


def test_content_loss_is_zero_at_target_and_relative() -> None:
    target = torch.rand(1, 8, 6, 6)
    loss = ContentLoss("c", target)
    assert float(loss({"c": target})) == 0.0
    assert float(loss({"c": torch.zeros_like(target)})) == pytest.approx(1.0)
    assert float(ContentLoss("c", target * 10)({"c": torch.zeros_like(target)})) == pytest.approx(1.0)


def test_style_loss_weights_layers_and_ignores_size() -> None:
    a, b = torch.rand(1, 4, 8, 8), torch.rand(1, 4, 8, 8) * 3
    loss = StyleLoss({"x": gram(a), "y": gram(b)}, {"x": 1.0, "y": 0.0})
    assert float(loss({"x": a, "y": torch.zeros(1, 4, 8, 8)})) == pytest.approx(0.0, abs=1e-6)
    parts = loss.per_layer({"x": torch.zeros(1, 4, 8, 8), "y": b})
    assert float(parts["x"]) == pytest.approx(1.0) and float(parts["y"]) == pytest.approx(0.0, abs=1e-6)
    # same texture at another size: (almost) no loss
    assert float(loss({"x": a.repeat(1, 1, 2, 2), "y": b})) == pytest.approx(0.0, abs=1e-5)


def test_blend_grams_is_a_weighted_mean() -> None:
    g1, g2 = {"x": torch.ones(1, 2, 2)}, {"x": torch.zeros(1, 2, 2)}
    assert torch.allclose(blend_grams([g1, g2], [0.25, 0.75])["x"], torch.full((1, 2, 2), 0.25))


def test_tv_loss() -> None:
    assert float(tv_loss(torch.full((1, 3, 8, 8), 0.3))) == 0.0
    stripes = torch.zeros(1, 3, 8, 8)
    stripes[..., ::2] = 1.0
    assert float(tv_loss(stripes)) == pytest.approx(0.5)


def test_plan_goes_coarse_to_fine_doubling_the_size() -> None:
    plan = make_plan((1024, 768), 512, 56)
    assert [s.size for s in plan.scales] == [(128, 96), (256, 192), (512, 384)]
    # iterations are shared: each coarser scale (a quarter of the pixels) gets twice as many,
    # so it costs half the time of the next finer one and the finest scale gets the most time
    assert [s.iterations for s in plan.scales] == [32, 16, 8]
    assert plan.steps == 56


def test_plan_steps_can_be_finer() -> None:
    plan = make_plan((1024, 768), 512, 100, ratio=2**0.5)
    sides = [s.long_side for s in plan.scales]
    assert sides == sorted(sides) and sides[-1] == 512 and sides[0] >= 126
    assert all(1.3 < b / a < 1.5 for a, b in itertools.pairwise(sides))


def test_single_scale_plan() -> None:
    plan = make_plan((300, 200), 256, 50, multiscale=False)
    assert [(s.size, s.iterations) for s in plan.scales] == [((256, 171), 50)]


@given(st.integers(8, 3000), st.integers(8, 3000), st.integers(16, 2048), st.integers(1, 500))
def test_plan_keeps_aspect_and_ends_at_requested_size(w: int, h: int, size: int, iters: int) -> None:
    plan = make_plan((w, h), size, iters)
    final = plan.scales[-1]
    assert final.long_side == size
    assert plan.steps == iters and all(s.iterations >= 1 for s in plan.scales)
    if iters >= 3 * len(plan.scales):
        assert min(s.iterations for s in plan.scales) >= 3
    for scale in plan.scales:
        sw, sh = scale.size
        assert abs(sw / sh - w / h) <= (w / h) * (2 / min(sw, sh)) + 1e-9 or min(sw, sh) == 1


def test_plan_refuses_nonsense() -> None:
    with pytest.raises(OptionsError):
        make_plan((10, 10), 8, 10)
    with pytest.raises(OptionsError):
        make_plan((10, 10), 64, 0)


def test_memory_estimate_grows_with_pixels_and_history() -> None:
    assert estimate_bytes(10**6) > estimate_bytes(10**5)
    assert estimate_bytes(10**6, history=100) > estimate_bytes(10**6, history=10)
    assert estimate_bytes(10**6, optimizer="adam") < estimate_bytes(10**6)
    assert estimate_bytes(10**6, deepest="conv2_1") < estimate_bytes(10**6)


def test_largest_side_fits_and_one_more_does_not() -> None:
    budget = 4 * 2**30
    side = largest_long_side(budget, (4, 3))
    assert estimate_bytes(side * side * 3 // 4) <= budget
    assert estimate_bytes(math.ceil((side + 1) ** 2 * 3 / 4)) > budget * 0.999


def test_parse_bytes() -> None:
    assert parse_bytes("16G") == 16 * 2**30
    assert parse_bytes("512MiB") == 512 * 2**20
    assert parse_bytes("1000") == 1000


def test_defaults_follow_the_start() -> None:
    """From the photo (default): 26 iterations from 256 px up; from a fast-mode draft: 13 from 512 px."""
    drafted, from_photo = QualityOptions(init="fast"), QualityOptions()
    assert (drafted.steps, drafted.first_size) == (13, 512)
    assert (from_photo.steps, from_photo.first_size) == (26, 256)
    assert QualityOptions(iterations=7, min_size=64).steps == 7
    assert QualityOptions(iterations=7, min_size=64).first_size == 64
    plan = make_plan((1024, 768), 1024, drafted.steps, min_size=drafted.first_size)
    assert plan.describe() == "512×384:9 → 1024×768:4"
