"""The quality engine end to end: options, determinism, progress, cancellation, blending, colour."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from support.data import CONTENT, STYLE

import impasto
from impasto.errors import Cancelled, MemoryLimitError, OptionsError
from impasto.progress import CancelToken, DoneEvent, Event, IterationEvent, PreviewEvent, StageEvent
from impasto.quality import QualityOptions, run_quality
from impasto.quality.plan import make_plan
from impasto.styles import Style

TINY: dict[str, Any] = {"size": 64, "iterations": 4, "multiscale": False}


def diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference in 0..255."""
    b = b.resize(a.size)
    return float(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).mean())


@pytest.mark.slow
def test_end_to_end_style_loss_falls_tenfold(photo: Image.Image, starry: Image.Image) -> None:
    events: list[Event] = []
    # from the photo itself, so that the optimisation does all the painting (the default starts
    # from fast mode's draft, which is stylised already)
    opts = QualityOptions(size=96, iterations=80, init="content", style_loss="gram")
    result = run_quality(photo, [Style(starry)], opts, events.append)
    iterations = [e for e in events if isinstance(e, IterationEvent)]
    first_style = iterations[0].losses["style"]
    assert result.losses["style"] * 10 <= first_style, (first_style, result.losses)
    assert result.image.size == (96, 72)
    assert diff(result.image, photo) > 10, "the result is (nearly) the content image"
    assert diff(result.image, starry) > 10, "the result is (nearly) the style image"


def test_same_seed_gives_identical_bytes(photo: Image.Image, starry: Image.Image) -> None:
    a = run_quality(photo, [Style(starry)], QualityOptions(**TINY, init="noise", seed=3)).image
    b = run_quality(photo, [Style(starry)], QualityOptions(**TINY, init="noise", seed=3)).image
    c = run_quality(photo, [Style(starry)], QualityOptions(**TINY, init="noise", seed=4)).image
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_progress_events_tell_the_whole_story(photo: Image.Image, starry: Image.Image) -> None:
    events: list[Event] = []
    opts = QualityOptions(size=96, iterations=2, min_size=48, preview_every=3, init="fast")
    result = run_quality(photo, [Style(starry)], opts, events.append)
    steps = [e for e in events if isinstance(e, IterationEvent)]
    assert [e.step for e in steps] == list(range(1, result.plan.steps + 1))
    assert steps[-1].steps == result.plan.steps and steps[-1].scale == steps[-1].scales == 2
    assert all({"content", "style", "tv", "total"} <= set(e.losses) for e in steps)
    assert steps[-1].eta is not None and steps[-1].eta >= 0 and steps[-1].elapsed > 0
    previews = [e for e in events if isinstance(e, PreviewEvent)]
    # the fast-mode draft first (step 0), then every third step
    assert [p.step for p in previews] == [0] + [s for s in range(1, result.plan.steps + 1) if s % 3 == 0]
    assert {e.stage for e in events if isinstance(e, StageEvent)} >= {
        "loading",
        "analysing style",
        "painting",
    }
    assert isinstance(events[-1], DoneEvent) and not events[-1].cancelled
    assert steps[0].to_dict()["kind"] == "iteration"


def test_cancellation_stops_within_one_iteration_with_the_best_image(
    photo: Image.Image, starry: Image.Image
) -> None:
    token = CancelToken()
    seen: list[IterationEvent] = []

    def on_event(event: Event) -> None:
        if isinstance(event, IterationEvent):
            seen.append(event)
            if event.step == 3:
                threading.Thread(target=token.cancel).start()
                threading.Event().wait(0.05)

    result = run_quality(photo, [Style(starry)], QualityOptions(size=96, iterations=50), on_event, token)
    assert result.cancelled
    assert len(seen) <= 4
    assert result.image.size == (96, 72)  # the requested size even when stopped at a coarse scale


def test_cancelled_before_starting_raises(photo: Image.Image, starry: Image.Image) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_quality(photo, [Style(starry)], QualityOptions(**TINY), cancel=token)


def test_blend_weights_move_the_result(photo: Image.Image, starry: Image.Image, scream: Image.Image) -> None:
    only_starry = impasto.stylize(photo, [(starry, 1.0), (scream, 0.0)], **TINY)
    only_scream = impasto.stylize(photo, [(starry, 0.0), (scream, 1.0)], **TINY)
    mixed = impasto.stylize(photo, [starry, scream], style_weights=[0.5, 0.5], **TINY)
    pure_starry = impasto.stylize(photo, starry, **TINY)
    assert diff(only_starry, pure_starry) < 0.5
    assert diff(only_starry, only_scream) > 2
    assert 0 < diff(mixed, only_starry) < diff(only_scream, only_starry)


@pytest.mark.parametrize(
    "option",
    [
        {"optimizer": "adam"},
        {"pooling": "avg"},
        {"style_scale": 0.5},
        {"init": "noise"},
        {"init": "content"},
        {"init": "fast"},
        {"style_loss": "gram"},
        {"style_loss": "sliced"},
        {"average": 0.5},
        {"tv_weight": 0.0},
        {"style_layer_weights": (1, 0, 0, 1)},
    ],
)
def test_each_option_runs_and_changes_the_picture(
    photo: Image.Image, starry: Image.Image, option: dict[str, Any]
) -> None:
    base = impasto.stylize(photo, starry, **TINY)
    other = impasto.stylize(photo, starry, **{**TINY, **option})
    assert other.size == base.size
    assert other.tobytes() != base.tobytes()


def test_bfloat16_paints_like_float32(photo: Image.Image, starry: Image.Image) -> None:
    """Both precisions forced, so the test means the same on any CPU: a different optimum, same look."""
    single = impasto.stylize(photo, starry, **TINY, precision="float32")
    half = impasto.stylize(photo, starry, **TINY, precision="bfloat16")
    assert half.size == single.size and half.tobytes() != single.tobytes()
    assert diff(half, single) < 0.5 * diff(single, photo.resize(single.size))


def test_init_from_an_image(photo: Image.Image, starry: Image.Image) -> None:
    out = impasto.stylize(photo, starry, **{**TINY, "iterations": 1}, init=starry)
    assert diff(out, starry.resize(out.size)) < diff(out, photo)


def test_init_from_a_fast_mode_draft_starts_stylised(photo: Image.Image, starry: Image.Image) -> None:
    """The optimisation starts from fast mode's painting: a lower style loss from the first step."""
    first: dict[str, float] = {}

    def drafted(init: str) -> bool:
        events: list[Event] = []
        run_quality(photo, [Style(starry)], QualityOptions(size=128, iterations=1, init=init), events.append)
        stages = {e.stage for e in events if isinstance(e, StageEvent)}
        first[init] = next(e for e in events if isinstance(e, IterationEvent)).losses["style"]
        return "drafting" in stages

    assert drafted("fast") and not drafted("content")
    assert first["fast"] < 0.8 * first["content"], first


@pytest.mark.parametrize(
    ("preserve", "init", "drafts"),
    [
        ("none", {}, False),
        ("none", {"init": "fast"}, True),
        ("luminance", {}, False),
        ("histogram", {}, False),
    ],
)
def test_colour_preserving_paintings_start_from_the_photo(
    photo: Image.Image, starry: Image.Image, preserve: str, init: dict[str, Any], drafts: bool
) -> None:
    """Paintings start from the photo unless a fast-mode draft is asked for; colour-preserving ones
    always do by default (fast mode paints in colours of its own, which would leak into the palette)."""
    events: list[Event] = []
    impasto.stylize(
        photo, starry, size=64, iterations=1, preserve_color=preserve, progress=events.append, **init
    )
    assert ("drafting" in {e.stage for e in events if isinstance(e, StageEvent)}) is drafts


@pytest.mark.parametrize("mode", ["luminance", "histogram"])
def test_preserve_color_keeps_the_photo_palette(photo: Image.Image, starry: Image.Image, mode: str) -> None:
    plain = impasto.stylize(photo, starry, **TINY)
    kept = impasto.stylize(photo, starry, preserve_color=mode, **TINY)
    target = np.asarray(photo, dtype=float).reshape(-1, 3).mean(0)
    assert (
        np.abs(np.asarray(kept, dtype=float).reshape(-1, 3).mean(0) - target).sum()
        < np.abs(np.asarray(plain, dtype=float).reshape(-1, 3).mean(0) - target).sum()
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": 4}, "size"),
        ({"iterations": 0}, "iterations"),
        ({"style_weight": -1}, "style weight"),
        ({"content_weight": 0, "style_weight": 0}, "both be 0"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"content_layer": "conv9_1"}, "unknown layer"),
        ({"backbone": "resnet"}, "backbone"),
        ({"style_scale": 100}, "style scale"),
        ({"precision": "half"}, "precision"),
        ({"style_layer_weights": (1, 2)}, "layer weights"),
        ({"colour": 1}, "unknown option"),
        ({"init": "fst"}, "neither palette, fast, content, noise nor an image file"),
        ({"init": ""}, "neither palette, fast, content, noise nor an image file"),
    ],
)
def test_bad_options_are_clear_errors(
    photo: Image.Image, starry: Image.Image, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(OptionsError, match=message):
        impasto.stylize(photo, starry, **options)


def test_bad_device_and_mode(photo: Image.Image, starry: Image.Image) -> None:
    with pytest.raises(OptionsError, match="device"):
        impasto.stylize(photo, starry, device="tpu", **TINY)
    with pytest.raises(OptionsError, match="mode"):
        impasto.stylize(photo, starry, mode="slow")  # type: ignore[arg-type]


def test_a_size_that_will_not_fit_is_refused_naming_the_largest(
    photo: Image.Image, starry: Image.Image
) -> None:
    with pytest.raises(MemoryLimitError, match="largest size that fits is") as info:
        impasto.stylize(photo, starry, size=4000, memory_limit=2 * 2**30)
    assert info.value.largest_size is not None and 256 < info.value.largest_size < 4000


def test_transfer_style_saves(tmp_path: Path) -> None:
    out = tmp_path / "out.jpg"
    img = impasto.transfer_style(CONTENT / "sailboat.jpg", STYLE / "udnie.jpg", out, **TINY)
    assert Image.open(out).size == img.size == (64, 64)


def test_arrays_in(photo: Image.Image, starry: Image.Image) -> None:
    out = impasto.stylize(np.asarray(photo), np.asarray(starry, dtype=np.float32) / 255, **TINY)
    assert out.size == (64, 48)


def test_default_paints_in_the_paintings_palette(photo: Image.Image) -> None:
    """A pale painting gives a pale painting: the photo starts in the painting's colours and the
    result's colours are matched to them at the end (init="palette", the default)."""
    pale = Image.new("RGB", (64, 64), (235, 225, 205))
    pale.paste((215, 170, 160), (8, 8, 40, 24))  # a few warm marks on cream
    dark = photo.point(lambda v: v // 3)  # the photo, very dark
    target = np.asarray(pale, dtype=float).reshape(-1, 3).mean(0)

    def mean_colour(**options: Any) -> np.ndarray:
        out = impasto.stylize(dark, pale, **{**TINY, **options})
        mean: np.ndarray = np.asarray(out, dtype=float).reshape(-1, 3).mean(0)
        return mean

    assert QualityOptions().init == "palette"
    from_photo = np.abs(mean_colour(init="content") - target).max()
    assert from_photo > 40  # four iterations from the photo leave it dark: the test means something
    assert np.abs(mean_colour() - target).max() < 3


def test_default_plan_starts_at_256_px(photo: Image.Image) -> None:
    """No 128 px scale: there the deep layers see whole objects of the painting and copy them."""
    opts = QualityOptions()
    plan = make_plan(photo.size, 512, opts.iterations, min_size=opts.first_size, base=opts.steps)
    assert [max(s.size) for s in plan.scales] == [256, 512]
    assert plan.scales[-1].iterations >= 8  # enough work where the losses that count are
