"""tsargen: autoregressive generative models for signals."""

from .estimators import (GatedPixelCNNDensity, GenerativeClassifier, PixelCNNDensity,
                         PixelCNNPPDensity, PixelRNNDensity, SignalImageForecaster, WaveNetDensity,
                         WaveNetForecaster, load)

__version__ = "0.1.0"

__all__ = ["GatedPixelCNNDensity", "GenerativeClassifier", "PixelCNNDensity", "PixelCNNPPDensity",
           "PixelRNNDensity", "SignalImageForecaster", "WaveNetDensity", "WaveNetForecaster",
           "load", "__version__"]
