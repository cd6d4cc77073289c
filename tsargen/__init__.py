"""tsargen: autoregressive generative models for signals."""

from .estimators import GenerativeClassifier, WaveNetDensity, WaveNetForecaster, load

__version__ = "0.1.0"

__all__ = ["GenerativeClassifier", "WaveNetDensity", "WaveNetForecaster", "load", "__version__"]
