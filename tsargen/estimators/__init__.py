"""The scikit-learn layer: estimators taking numpy/pandas and returning numpy/pandas."""

from ._base import TsargenEstimator, load
from .classifier import GenerativeClassifier
from .image import GatedPixelCNNDensity, PixelCNNDensity
from .image import PixelCNNPPDensity
from .sequence import WaveNetDensity, WaveNetForecaster

__all__ = ["GenerativeClassifier", "TsargenEstimator", "WaveNetDensity", "WaveNetForecaster", "load"]
__all__ += ["GatedPixelCNNDensity", "PixelCNNDensity"]
__all__ += ["PixelCNNPPDensity"]
