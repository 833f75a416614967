"""Device and precision choice, with the CPU's bfloat16 capability monkeypatched both ways: the
suite means the same on a CPU with AMX-BF16 and on one without."""

from __future__ import annotations

import pytest
import torch

from impasto import device
from impasto.errors import OptionsError

CPU = torch.device("cpu")
_REAL_CHECK = device.cpu_has_fast_bf16  # before conftest pins it for each test


@pytest.mark.parametrize(
    ("amx", "avx512_bf16", "fast"), [(True, False, True), (False, True, True), (False, False, False)]
)
def test_cpu_has_fast_bf16_reads_the_cpu(
    monkeypatch: pytest.MonkeyPatch, amx: bool, avx512_bf16: bool, fast: bool
) -> None:
    monkeypatch.setattr(device, "cpu_has_fast_bf16", _REAL_CHECK)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    assert device.cpu_has_fast_bf16() is fast


@pytest.mark.parametrize(("capable", "expected"), [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_precision_follows_the_capability(
    monkeypatch: pytest.MonkeyPatch, capable: bool, expected: torch.dtype
) -> None:
    monkeypatch.setattr(device, "cpu_has_fast_bf16", lambda: capable)
    assert device.select_dtype("auto", CPU) == expected


@pytest.mark.parametrize("capable", [True, False])
def test_forced_precision_ignores_the_capability(monkeypatch: pytest.MonkeyPatch, capable: bool) -> None:
    monkeypatch.setattr(device, "cpu_has_fast_bf16", lambda: capable)
    assert device.select_dtype("float32", CPU) == torch.float32
    assert device.select_dtype("bfloat16", CPU) == torch.bfloat16


def test_unknown_precision_and_device_are_refused() -> None:
    with pytest.raises(OptionsError, match="auto, float32 or bfloat16"):
        device.select_dtype("float16", CPU)
    with pytest.raises(OptionsError, match=r"not supported|unknown device"):
        device.select_device("tpu")


def test_the_suite_runs_as_on_a_cpu_without_native_bfloat16() -> None:
    """conftest pins the capability, so ``auto`` means float32 in every other test on every machine."""
    assert device.select_dtype("auto", CPU) == torch.float32
