"""tsargen: autoregressive generative models for signals."""

from .estimators import WaveNetDensity, WaveNetForecaster, load

__version__ = "0.1.0"

__all__ = ["WaveNetDensity", "WaveNetForecaster", "load", "__version__"]
