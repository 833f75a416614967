"""Quality mode: Gatys et al. optimisation on a pretrained VGG."""

from .engine import QualityResult, run_quality
from .options import QualityOptions
from .plan import Plan, Scale, make_plan

__all__ = ["Plan", "QualityOptions", "QualityResult", "Scale", "make_plan", "run_quality"]
