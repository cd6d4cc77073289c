"""The scikit-learn layer: estimators taking numpy/pandas and returning numpy/pandas."""

from ..timeindex import IrregularIndexWarning
from ._base import TsargenEstimator
from ._persistence import load
from .classifier import GenerativeClassifier
from .image import GatedPixelCNNDensity, PixelCNNDensity, PixelCNNPPDensity, PixelRNNDensity
from .sequence import WaveNetDensity
from .wavenet_forecaster import WaveNetForecaster
from .signal_image import SignalImageForecaster

__all__ = ["GatedPixelCNNDensity", "GenerativeClassifier", "IrregularIndexWarning",
           "PixelCNNDensity", "PixelCNNPPDensity", "PixelRNNDensity", "SignalImageForecaster",
           "TsargenEstimator", "WaveNetDensity", "WaveNetForecaster", "load"]
