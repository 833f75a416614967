"""Quality mode: Gatys et al. optimisation on a pretrained VGG."""

from .engine import Estimate, QualityResult, estimate, run_quality
from .options import QualityOptions
from .plan import Plan, Scale, make_plan

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
