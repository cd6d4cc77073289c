"""The scikit-learn layer: estimators taking numpy/pandas and returning numpy/pandas."""

from ._base import TsargenEstimator, load
from .sequence import WaveNetDensity, WaveNetForecaster

__all__ = ["TsargenEstimator", "WaveNetDensity", "WaveNetForecaster", "load"]
