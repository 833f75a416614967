"""Fast mode: the float PyTorch networks against the original ONNX graphs, sizes, strength,
blending, caches, exact tiling, progress, cancellation and bad options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import impasto
from impasto.errors import Cancelled, OptionsError
from impasto.fast import FastOptions, blend_vectors, load_networks, run_fast, style_square, style_vector
from impasto.fast.weights import PREDICT_FILE, TRANSFORM_FILE, model_path
from impasto.progress import CancelToken, DoneEvent, IterationEvent
from impasto.styles import Style

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPASTO_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _image(name: str, long_side: int) -> Image.Image:
    img = Image.open(DATA / name).convert("RGB")
    img.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return img


def _array(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32) / 255.0


def _float_graph(path: Path) -> bytes:
    """The ONNX graph with its activation quantise/dequantise round trips removed (weights still int8)."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    consts = {t.name for t in graph.initializer}
    for node in graph.node:
        weight = node.op_type == "DequantizeLinear" and node.input[0] in consts
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and not weight:
            node.op_type = "Identity"
            del node.input[1:]
            del node.attribute[:]
    del graph.value_info[:]
    return model.SerializeToString()


def _session(model: Path | bytes) -> object:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def _content_384() -> np.ndarray:
    return _array(style_square(_image("content/tubingen.jpg", 512)).resize((384, 384)))


def _ours(content: np.ndarray, vec: np.ndarray, tile: int | None = None) -> np.ndarray:
    _, transformer, _ = load_networks("cpu")
    x = torch.from_numpy(content).permute(2, 0, 1)[None].contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        out = transformer(x, torch.from_numpy(vec.reshape(1, -1)), tile)
    return out[0].permute(1, 2, 0).numpy()


def test_float_network_equals_the_dequantised_onnx_graph() -> None:
    style = _array(style_square(_image("style/the_scream.jpg", 512)))
    predict = _session(_float_graph(model_path(PREDICT_FILE)))
    theirs_vec = predict.run(None, {"style_image": style[None]})[0].reshape(-1)  # type: ignore[attr-defined]
    ours_vec = style_vector(Image.fromarray((style * 255).round().astype(np.uint8)))
    assert np.abs(theirs_vec - ours_vec).max() < 1e-3

    content = _content_384()
    transform = _session(_float_graph(model_path(TRANSFORM_FILE)))
    names = [i.name for i in transform.get_inputs()]  # type: ignore[attr-defined]
    theirs = transform.run(None, {names[0]: content[None], names[1]: theirs_vec.reshape(1, 1, 1, 100)})[0][0]  # type: ignore[attr-defined]
    assert theirs.shape == (384, 384, 3)
    assert np.abs(theirs - _ours(content, theirs_vec)).max() < 1e-3


def test_close_to_the_original_int8_graph() -> None:
    """Float activations differ from int8 ones: measured mean |Δ| 0.022–0.040 (Starry Night worst)."""
    style = _array(style_square(_image("style/starry_night.jpg", 512)))
    predict, transform = _session(model_path(PREDICT_FILE)), _session(model_path(TRANSFORM_FILE))
    vec = predict.run(None, {"style_image": style[None]})[0]  # type: ignore[attr-defined]
    content = _content_384()
    names = [i.name for i in transform.get_inputs()]  # type: ignore[attr-defined]
    theirs = transform.run(None, {names[0]: content[None], names[1]: vec})[0][0]  # type: ignore[attr-defined]
    ours = _ours(content, vec.reshape(-1))
    assert np.abs(theirs - ours).mean() <= 0.05
    assert np.abs(theirs.mean(axis=(0, 1)) - ours.mean(axis=(0, 1))).max() <= 0.02  # same colours


def test_output_has_the_full_requested_resolution() -> None:
    content = _image("content/sailboat.jpg", 203).resize((203, 150))  # sides not multiples of 4
    assert run_fast(content, [Style(_image("style/udnie.jpg", 256))], FastOptions(), _ignore, None).size == (
        203,
        150,
    )
    out = impasto.stylize(content, "udnie", mode="fast", size=97)
    assert out.size == (97, 72)


def test_tiles_match_the_untiled_picture() -> None:
    content = _image("content/tubingen.jpg", 256)
    style = [Style(_image("style/shipwreck.jpg", 256))]
    whole = np.asarray(run_fast(content, style, FastOptions(), _ignore, None), dtype=np.int16)
    tiled = np.asarray(run_fast(content, style, FastOptions(tile_size=48), _ignore, None), dtype=np.int16)
    assert np.abs(whole - tiled).max() <= 1  # float rounding only: no seams


def test_strength_zero_keeps_the_contents_own_style() -> None:
    content = _image("content/sailboat.jpg", 160)
    style = [Style(_image("style/starry_night.jpg", 256))]
    assert np.allclose(blend_vectors(style, content, 0.0), style_vector(content), atol=1e-6)
    photo = _array(content)
    own = _array(run_fast(content, style, FastOptions(strength=0.0), _ignore, None))
    full = _array(run_fast(content, style, FastOptions(strength=1.0), _ignore, None))
    half = _array(run_fast(content, style, FastOptions(strength=0.5), _ignore, None))
    d_own, d_half, d_full = (np.abs(x - photo).mean() for x in (own, half, full))
    assert d_own < d_half < d_full
    assert d_own < 0.12


def test_styles_blend_by_weight() -> None:
    content = _image("content/sailboat.jpg", 128)
    a, b = _image("style/the_scream.jpg", 256), _image("style/udnie.jpg", 256)
    va, vb = style_vector(a), style_vector(b)
    mixed = blend_vectors([Style(a, 0.25), Style(b, 0.75)], content, 1.0)
    assert np.allclose(mixed, 0.25 * va + 0.75 * vb, atol=1e-5)
    out_a, out_b, out_mix = (
        _array(impasto.stylize(content, s, mode="fast")) for s in (a, b, [(a, 0.25), (b, 0.75)])
    )
    assert np.abs(out_mix - out_b).mean() < np.abs(out_mix - out_a).mean()


def test_style_vectors_and_weights_are_cached_on_disk(tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = tmp_path_factory.getbasetemp() / "cache" / "fast"
    img = _image("style/woman_with_hat.jpg", 200)
    vec = style_vector(img)
    files = list((cache / "vectors").rglob("*.npy"))
    assert files and any(np.allclose(np.load(f), vec) for f in files)
    # the cache is what a second call reads: a planted vector comes back
    target = next(f for f in files if np.allclose(np.load(f), vec))
    np.save(target, np.full(100, 7.0, dtype=np.float32))
    assert np.allclose(style_vector(img), 7.0)
    target.unlink()
    assert np.allclose(style_vector(img), vec, atol=1e-5)
    assert len(list((cache / "weights").glob("*.safetensors"))) == 2


def test_progress_events_and_cancel() -> None:
    content = _image("content/sailboat.jpg", 96)
    events: list[object] = []
    run_fast(content, [Style(_image("style/udnie.jpg", 128))], FastOptions(tile_size=32), events.append, None)
    steps = [e for e in events if isinstance(e, IterationEvent)]
    assert steps and steps[-1].step == steps[-1].steps == len(steps) and steps[0].scales == 1
    assert isinstance(events[-1], DoneEvent)

    token = CancelToken()
    seen: list[object] = []

    def stop_after_three(event: object) -> None:
        seen.append(event)
        if sum(isinstance(e, IterationEvent) for e in seen) == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        run_fast(content, [Style(_image("style/udnie.jpg", 128))], FastOptions(), stop_after_three, token)


@pytest.mark.parametrize(
    "options",
    [{"strength": 2}, {"strength": -0.1}, {"strength": "1"}, {"size": 0}, {"size": 1.5}, {"tile_size": 8},
     {"precision": "int4"}],
)  # fmt: skip
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(OptionsError):
        FastOptions(**options)  # type: ignore[arg-type]


def test_bad_requests_through_the_api() -> None:
    content = _image("content/sailboat.jpg", 64)
    with pytest.raises(OptionsError, match="strength"):
        impasto.stylize(content, "udnie", mode="fast", strength=2)
    with pytest.raises(OptionsError, match="unknown option"):
        impasto.stylize(content, "udnie", mode="fast", iterations=3)
    with pytest.raises(OptionsError, match="16 px"):
        impasto.stylize(content.resize((40, 10)), "udnie", mode="fast")
    with pytest.raises(OptionsError, match="starry-night"):
        impasto.stylize(content, "no-such-painting", mode="fast")


def _ignore(_event: object) -> None:
    pass
