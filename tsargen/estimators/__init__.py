"""The scikit-learn layer: estimators taking numpy/pandas and returning numpy/pandas."""

from ._base import TsargenEstimator, load
from .classifier import GenerativeClassifier
from .image import GatedPixelCNNDensity, PixelCNNDensity
from .image import PixelRNNDensity
from .sequence import WaveNetDensity, WaveNetForecaster
from .signal_image import SignalImageForecaster

__all__ = ["GenerativeClassifier", "TsargenEstimator", "WaveNetDensity", "WaveNetForecaster", "load"]
__all__ += ["GatedPixelCNNDensity", "PixelCNNDensity"]
__all__ += ["PixelRNNDensity"]
__all__ += ["SignalImageForecaster"]
