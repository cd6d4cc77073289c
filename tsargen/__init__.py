"""tsargen: autoregressive generative models for signals."""

from .estimators import (GatedPixelCNNDensity, GenerativeClassifier, PixelCNNDensity,
                         PixelCNNPPDensity, PixelRNNDensity, SignalImageForecaster, WaveNetDensity,
                         WaveNetForecaster, load)
from .estimators import IrregularIndexWarning

__version__ = "0.1.0"

__all__ = ["GatedPixelCNNDensity", "GenerativeClassifier", "PixelCNNDensity", "PixelCNNPPDensity",
           "PixelRNNDensity", "SignalImageForecaster", "WaveNetDensity", "WaveNetForecaster",
           "IrregularIndexWarning", "load", "__version__"]
