"""scikit-learn transformers for signals (numpy/pandas only)."""

from ._quantize import MuLaw, Quantizer
from .orderbook import OrderBookImage
from .spectrogram import Spectrogram
from .ticks import TickFeatures

__all__ = ["MuLaw", "OrderBookImage", "Quantizer", "Spectrogram", "TickFeatures"]
