"""tsargen: autoregressive generative models for signals."""

from .estimators import GenerativeClassifier, WaveNetDensity, WaveNetForecaster, load
from .estimators import GatedPixelCNNDensity, PixelCNNDensity
from .estimators import PixelCNNPPDensity

__version__ = "0.1.0"

__all__ = ["GenerativeClassifier", "WaveNetDensity", "WaveNetForecaster", "load", "__version__"]
__all__ += ["GatedPixelCNNDensity", "PixelCNNDensity"]
__all__ += ["PixelCNNPPDensity"]
