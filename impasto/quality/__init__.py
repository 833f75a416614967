"""Quality mode: Gatys et al. optimisation on a pretrained VGG.

Its options (:class:`QualityOptions`) load without the engine (torch), so the CLI and the service
can build their flags and schemas from them at once; the engine loads on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .options import QualityOptions

if TYPE_CHECKING:
    from .engine import Estimate, QualityResult, estimate, run_quality
    from .plan import Plan, Scale, make_plan

_LAZY = {
    "Estimate": "engine",
    "QualityResult": "engine",
    "estimate": "engine",
    "run_quality": "engine",
    "Plan": "plan",
    "Scale": "plan",
    "make_plan": "plan",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Estimate",
    "Plan",
    "QualityOptions",
    "QualityResult",
    "Scale",
    "estimate",
    "make_plan",
    "run_quality",
]
