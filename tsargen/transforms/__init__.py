"""scikit-learn transformers for signals (numpy/pandas only)."""

from ._quantize import MuLaw, Quantizer
from .orderbook import OrderBookImage
from .spectrogram import Spectrogram

__all__ = ["MuLaw", "Quantizer"]
__all__ += ["OrderBookImage", "Spectrogram"]
