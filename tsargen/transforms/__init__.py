"""scikit-learn transformers for signals (numpy/pandas only)."""

from ._quantize import MuLaw, Quantizer
from .ticks import TickFeatures

__all__ = ["MuLaw", "Quantizer", "TickFeatures"]
