"""scikit-learn transformers for signals (numpy/pandas only)."""

from ._quantize import MuLaw, Quantizer

__all__ = ["MuLaw", "Quantizer"]
