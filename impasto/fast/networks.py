"""Magenta's arbitrary-style networks (Ghiasi et al. 2017) as plain float PyTorch modules.

* :class:`StylePredictor` — MobileNet-v2 that turns a 256×256 style image into a 100-d style vector.
* :class:`Transformer` — the style transfer network: three convolutions down, five residual blocks,
  three up; every layer after the encoder is a *conditional instance norm* whose scale and shift
  are linear functions of the style vector.

The transformer runs at any size. Its instance norms need statistics of whole feature maps, so
large images are painted *layer by layer*: each convolution is computed tile by tile from the
previous full feature map (each tile reads its receptive-field halo, with reflection only at the
true image border), and norm statistics are merged across tiles. The result equals the untiled
network's up to float rounding — no seams by construction — while the convolution workspace stays
bounded by the tile size.

Both networks also have an *int8 reference mode* (:meth:`StylePredictor.quantise_activations`,
:meth:`Transformer.quantise_activations`): every activation is rounded to int8 with the original
graph's scale and zero point at the points where the graph quantises it. It exists to prove the
conversion exact against the int8 ONNX graph (run it in float64, so that the graph's roundings
are the only ones); the float path is the product.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

STYLE_DIM = 100
STYLE_SIZE = 256
NORM_EPS = 1e-5  # the graph's batchnorm/add/y: 127 × 7.874016e-08
QParams = tuple[float, int]  # scale and zero point of an int8 activation

# MobileNet-v2 (width 1.0): (expansion, output channels, repeats, first stride)
_MOBILENET = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)
)  # fmt: skip


def fake_quant(x: Tensor, q: QParams) -> Tensor:
    """ONNX ``QuantizeLinear`` then ``DequantizeLinear`` to int8: round half to even, saturate."""
    scale, zero = q
    return (torch.round(x / scale) + zero).clamp_(-128, 127).sub_(zero).mul_(scale)


class _Quantisable(nn.Module):
    """A module that rounds its activations as the int8 graph does once given the graph's table."""

    int8: dict[str, QParams] | None = None  # point name -> (scale, zero point); None = float

    def q(self, x: Tensor, point: str) -> Tensor:
        return x if self.int8 is None else fake_quant(x, self.int8[point])


class _SamePad(nn.Module):
    """TensorFlow's ``SAME`` padding for a 3×3 convolution with the given stride."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            return F.pad(x, (1, 1, 1, 1))
        pads = []
        for n in (x.shape[3], x.shape[2]):
            total = max(3 - (n % 2 or 2), 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)


class _InvertedResidual(_Quantisable):
    def __init__(self, cin: int, cout: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.expand = nn.Conv2d(cin, hidden, 1) if expansion != 1 else None
        self.pad = _SamePad(stride)
        self.depthwise = nn.Conv2d(hidden, hidden, 3, stride, groups=hidden)
        self.project = nn.Conv2d(hidden, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        h = self.q(F.relu6(self.expand(x)), "expand") if self.expand is not None else x
        h = self.q(F.relu6(self.depthwise(self.pad(h))), "depthwise")
        h = self.q(self.project(h), "project")
        return self.q(x + h, "add") if self.residual else h


class StylePredictor(_Quantisable):
    """RGB 0..1 images ``(N, 3, 256, 256)`` → style vectors ``(N, 100)``."""

    def __init__(self) -> None:
        super().__init__()
        self.pad = _SamePad(2)
        self.stem = nn.Conv2d(3, 32, 3, 2)
        blocks, cin = [], 32
        for expansion, cout, repeats, stride in _MOBILENET:
            for i in range(repeats):
                blocks.append(_InvertedResidual(cin, cout, expansion, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(cin, 1280, 1)
        self.bottleneck = nn.Linear(1280, STYLE_DIM)

    def quantise_activations(self, table: dict[str, QParams]) -> StylePredictor:
        """Int8 reference mode; ``table`` keys: input, stem, head, mean, out, blocks.I.{expand, ...}."""
        self.int8 = table
        for i, block in enumerate(self.blocks):
            assert isinstance(block, _InvertedResidual)
            prefix = f"blocks.{i}."
            block.int8 = {k.removeprefix(prefix): v for k, v in table.items() if k.startswith(prefix)}
        return self

    def forward(self, x: Tensor) -> Tensor:
        h = self.q(F.relu6(self.stem(self.pad(self.q(x, "input")))), "stem")
        h = self.q(F.relu6(self.head(self.blocks(h))), "head")
        return self.q(self.bottleneck(self.q(h.mean(dim=(2, 3)), "mean")), "out")


class StyleNorm(nn.Module):
    """Conditional instance norm: per-channel scale and shift predicted from the style vector."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Linear(STYLE_DIM, channels)
        self.beta = nn.Linear(STYLE_DIM, channels)


@dataclass(frozen=True)
class _Layer:
    name: str
    kernel: int
    stride: int = 1
    upsample: int = 1
    norm: bool = True
    act: str = "relu"  # relu | sigmoid | none


_LAYERS = (
    _Layer("contract1", 9, norm=False),
    _Layer("contract2", 3, 2, norm=False),
    _Layer("contract3", 3, 2, norm=False),
    *(_Layer(f"residual{i}_{j}", 3, act="relu" if j == 1 else "none") for i in range(1, 6) for j in (1, 2)),
    _Layer("expand1", 3, upsample=2),
    _Layer("expand2", 3, upsample=2),
    _Layer("expand3", 9, act="sigmoid"),
)
_CHANNELS = {"contract1": (3, 8), "contract2": (8, 16), "contract3": (16, 32), "expand1": (32, 16),
             "expand2": (16, 8), "expand3": (8, 3)}  # fmt: skip


def _channels(name: str) -> tuple[int, int]:
    return _CHANNELS.get(name, (32, 32))


Progress = Callable[[], None]


class Transformer(_Quantisable):
    """Content ``(1, 3, H, W)`` in 0..1 (H, W multiples of 4) and style vector ``(1, 100)`` → image."""

    layers = _LAYERS
    multiple = 4

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleDict(
            {x.name: nn.Conv2d(*_channels(x.name), x.kernel, x.stride) for x in _LAYERS}
        )
        self.norms = nn.ModuleDict({x.name: StyleNorm(_channels(x.name)[1]) for x in _LAYERS if x.norm})
        self.out_channels = {x.name: _channels(x.name)[1] for x in _LAYERS}
        self.folded = nn.ModuleDict()  # filled by fold_upsampling()

    def quantise_activations(self, table: dict[str, QParams]) -> Transformer:
        """Int8 reference mode; ``table`` keys: input, style, residualI.add and LAYER.POINT (see
        :meth:`_int8_tail`)."""
        self.int8 = table
        return self

    def fold_upsampling(self) -> Transformer:
        """Replace "nearest ×2, reflect-pad 1, 3×3 conv" by one 3×3 conv on the small map.

        Output pixel ``(2i + a, 2j + b)`` reads small-map rows ``i - 1, i`` (a = 0) or ``i, i + 1``
        (a = 1) with the 3×3 taps summed accordingly; the upsampled map's reflection at the border
        is the small map's replication. One conv with 4× the outputs, then a pixel shuffle: the
        same result without materialising the upsampled input, and with better-vectorised outputs.
        """
        for layer in _LAYERS:
            conv = self.convs[layer.name]
            if layer.upsample != 2 or layer.kernel != 3 or not isinstance(conv, nn.Conv2d):
                continue
            w = conv.weight.detach()
            taps = {0: ((0,), (1, 2), ()), 1: ((), (0, 1), (2,))}  # phase -> source offset -1, 0, +1
            cout, cin = w.shape[:2]
            folded = torch.zeros(cout, 2, 2, cin, 3, 3, dtype=w.dtype, device=w.device)
            for a in (0, 1):
                for b in (0, 1):
                    for oy, ky in enumerate(taps[a]):
                        for ox, kx in enumerate(taps[b]):
                            for i in ky:
                                for j in kx:
                                    folded[:, a, b, :, oy, ox] += w[:, :, i, j]
            new = nn.Conv2d(cin, cout * 4, 3).to(w.device, w.dtype)
            new.weight = nn.Parameter(folded.reshape(cout * 4, cin, 3, 3), False)
            assert conv.bias is not None
            new.bias = nn.Parameter(conv.bias.detach().repeat_interleave(4), False)
            self.folded[layer.name] = new
        return self

    def widen_narrow_convs(self, minimum: int = 8) -> Transformer:
        """Pad convolutions with fewer than ``minimum`` outputs with zero filters (sliced off again).

        oneDNN vectorises over output channels; the last 8→3 9×9 convolution runs ~1.3× faster with
        8 outputs of which 5 are discarded than with 3.
        """
        for name, conv in self.convs.items():
            assert isinstance(conv, nn.Conv2d)
            if conv.out_channels < minimum and conv.bias is not None:
                wide = nn.Conv2d(conv.in_channels, minimum, conv.kernel_size[0], conv.stride[0])
                weight = torch.zeros_like(wide.weight)
                bias = torch.zeros(minimum, dtype=conv.bias.dtype)
                weight[: conv.out_channels] = conv.weight.detach()
                bias[: conv.out_channels] = conv.bias.detach()
                wide.weight, wide.bias = nn.Parameter(weight, False), nn.Parameter(bias, False)
                self.convs[name] = wide.to(conv.weight.device, conv.weight.dtype)
        return self

    def forward(
        self, x: Tensor, style: Tensor, tile: int | None = None, step: Progress | None = None
    ) -> Tensor:
        h, style = self.q(x, "input"), self.q(style, "style")
        skip: Tensor | None = None
        for layer in _LAYERS:
            if layer.name.endswith("_1"):
                skip = h
            h = self._layer(layer, h, style, tile, step)
            if layer.name.endswith("_2") and skip is not None:
                h = self.q(skip.add_(h), layer.name.split("_")[0] + ".add")
        return h

    def tiles_per_layer(self, height: int, width: int, tile: int | None) -> int:
        """How many tiles a forward pass at this size computes (for progress reports)."""
        total, h, w = 0, height, width
        for layer in _LAYERS:
            h, w = h * layer.upsample // layer.stride, w * layer.upsample // layer.stride
            total += len(list(_tiles(h, w, tile)))
        return total

    def _layer(
        self, layer: _Layer, x: Tensor, style: Tensor, tile: int | None, step: Progress | None
    ) -> Tensor:
        conv = self.convs[layer.name]
        assert isinstance(conv, nn.Conv2d)
        pad, up, stride = layer.kernel // 2, layer.upsample, layer.stride
        n, _, height, width = x.shape
        out_h, out_w = height * up // stride, width * up // stride
        out_channels = self.out_channels[layer.name]
        shape = (n, out_channels, out_h, out_w)
        out = torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=_layout(x))
        stats = _Moments()
        folded = self.folded[layer.name] if layer.name in self.folded else None  # noqa: SIM401 (no .get)
        for r0, r1, c0, c1 in _tiles(out_h, out_w, tile, even=up > 1):
            if folded is not None:  # nearest ×2 then 3×3 == 3×3 on the small map, 4 phases
                rows, cols = (r0 // 2 - 1, r1 // 2 + 1), (c0 // 2 - 1, c1 // 2 + 1)
                piece = F.pixel_shuffle(folded(_window(x, rows, cols, 1, "replicate")), 2)
            else:
                rows = (r0 * stride - pad, (r1 - 1) * stride - pad + layer.kernel)
                cols = (c0 * stride - pad, (c1 - 1) * stride - pad + layer.kernel)
                piece = conv(_window(x, rows, cols, up))[:, :out_channels]
            if layer.norm:
                stats.add(piece)
            if (r1 - r0, c1 - c0) == (out_h, out_w):
                out = piece.contiguous(memory_format=_layout(x))  # one tile: no copy
            else:
                out[:, :, r0:r1, c0:c1] = piece
            if step is not None:
                step()
        if self.int8 is not None:
            return self._int8_tail(layer, out, style)
        if layer.norm:
            norm = self.norms[layer.name]
            assert isinstance(norm, StyleNorm)
            mean, var = stats.result()
            scale = norm.gamma(style) * torch.rsqrt(var + NORM_EPS)
            shift = norm.beta(style) - mean * scale
            scale, shift = scale[:, :, None, None].to(out.dtype), shift[:, :, None, None].to(out.dtype)
            torch.addcmul(shift, out, scale, out=out)
        if layer.act == "relu":
            out.relu_()
        elif layer.act == "sigmoid":
            out.sigmoid_()
        return out

    def _int8_tail(self, layer: _Layer, x: Tensor, style: Tensor) -> Tensor:
        """Norm and activation of a layer's convolution output ``x``, in the int8 graph's order of
        operations, each intermediate rounded where the graph rounds it."""

        def q(t: Tensor, point: str) -> Tensor:
            return self.q(t, f"{layer.name}.{point}")

        if layer.norm:
            norm = self.norms[layer.name]
            assert isinstance(norm, StyleNorm)
            gamma = q(norm.gamma(style), "gamma")[:, :, None, None]
            beta = q(norm.beta(style), "beta")[:, :, None, None]
            x = q(x, "conv")
            mean = q(x.mean(dim=(2, 3), keepdim=True), "mean")
            var = q(q((x - mean).square(), "sqdiff").mean(dim=(2, 3), keepdim=True), "var")
            rsqrt = q(q(var + NORM_EPS, "var_eps").sqrt().reciprocal(), "rsqrt")
            scale = q(rsqrt * gamma, "scale")
            x = q(x * scale, "scaled") + q(beta - q(mean * scale, "mean_scale"), "shift")
        if layer.act == "relu":
            return q(x.relu(), "out")
        if layer.act == "sigmoid":
            return q(q(x, "sum").sigmoid(), "out")
        return q(x, "out")


class _Moments:
    """Per-channel mean and population variance of a feature map seen tile by tile."""

    def __init__(self) -> None:
        self.count = 0
        self.sum: Tensor | float = 0.0
        self.sum_sq: Tensor | float = 0.0

    def add(self, piece: Tensor) -> None:
        # (pixels, channels) view: channels-last maps reduce along contiguous rows (fast path)
        rows = piece.float().permute(0, 2, 3, 1).reshape(-1, piece.shape[1])
        self.sum = self.sum + rows.sum(dim=0).double()
        self.sum_sq = self.sum_sq + rows.square().sum(dim=0).double()
        self.count += rows.shape[0]

    def result(self) -> tuple[Tensor, Tensor]:
        assert isinstance(self.sum, Tensor) and isinstance(self.sum_sq, Tensor)
        mean = self.sum / self.count
        var = (self.sum_sq / self.count - mean * mean).clamp_min(0.0)
        return mean.float()[None], var.float()[None]


def _layout(x: Tensor) -> torch.memory_format:
    channels_last = x.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if channels_last else torch.contiguous_format


def _tiles(
    height: int, width: int, tile: int | None, even: bool = False
) -> Iterator[tuple[int, int, int, int]]:
    step = tile if tile is None or not even else tile + tile % 2
    step_h = height if step is None else step
    step_w = width if step is None else step
    for r0 in range(0, height, step_h):
        for c0 in range(0, width, step_w):
            yield r0, min(r0 + step_h, height), c0, min(c0 + step_w, width)


def _window(
    x: Tensor, rows: tuple[int, int], cols: tuple[int, int], up: int, mode: str = "reflect"
) -> Tensor:
    """``x`` upsampled ``up``× (nearest), reflect-padded, then cut to ``[rows) × [cols)``.

    Only the window is upsampled and padded, so a tile costs memory in proportion to its size.
    """
    height, width = x.shape[2] * up, x.shape[3] * up
    top, bottom = max(rows[0], 0), min(rows[1], height)
    left, right = max(cols[0], 0), min(cols[1], width)
    piece = x[:, :, top // up : (bottom - 1) // up + 1, left // up : (right - 1) // up + 1]
    if up > 1:
        piece = F.interpolate(piece, scale_factor=up, mode="nearest")
        dy, dx = top - top // up * up, left - left // up * up
        piece = piece[:, :, dy : dy + bottom - top, dx : dx + right - left]
    pads = (left - cols[0], cols[1] - right, top - rows[0], rows[1] - bottom)
    return F.pad(piece, pads, mode=mode) if any(pads) else piece
