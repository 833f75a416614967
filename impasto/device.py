"""Device and precision choice, measured rather than assumed.

bfloat16 autocast pays off only where the hardware has native bfloat16 matrix units (AMX-BF16 or
AVX512-BF16 on x86, any recent CUDA GPU). On an AVX-512 CPU without them, bfloat16 convolutions
are emulated and run several times *slower* than float32, so ``auto`` picks float32 there.
"""

from __future__ import annotations

from typing import Literal

import torch

from .errors import OptionsError

Precision = Literal["auto", "float32", "bfloat16"]


def select_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise OptionsError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise OptionsError("device cuda was asked for, but no CUDA GPU is available")
    if device.type not in ("cpu", "cuda"):
        raise OptionsError(f"device {name!r} is not supported: use auto, cpu, cuda or cuda:N")
    return device


def cpu_has_fast_bf16() -> bool:
    """True where bfloat16 matrix maths runs in hardware on this CPU."""
    cpu = torch.cpu
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def select_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The autocast dtype for the network: ``torch.float32`` means no autocast."""
    if precision == "float32":
        return torch.float32
    if precision == "bfloat16":
        return torch.bfloat16
    if precision != "auto":
        raise OptionsError(f"unknown precision {precision!r}: use auto, float32 or bfloat16")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
