"""tsargen: autoregressive generative models for signals."""

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = ["AutoForecaster", "GatedPixelCNNDensity", "GenerativeClassifier", "PixelCNNDensity",
           "PixelCNNPPDensity", "PixelRNNDensity", "SignalImageForecaster", "WaveNetDensity",
           "WaveNetForecaster", "IrregularIndexWarning", "load", "__version__"]

# Documented lazy import (PEP 562): the public names come from tsargen.estimators (AutoForecaster
# from tsargen.auto_forecaster), which import torch (about 1.5 s), on first access, so that the
# ``tsargen`` command line starts, answers --help and reports usage errors without loading torch.
# Static tools see the names below.
# The subpackages are reachable as attributes (``tsargen.audio``) without importing them first.
_SUBMODULES = ("audio", "calendar", "estimators", "networks", "nn", "timeindex", "transforms",
               "validation")
_HOMES = {"AutoForecaster": "auto_forecaster", "IrregularIndexWarning": "timeindex"}
if TYPE_CHECKING:
    from .estimators import (GatedPixelCNNDensity, GenerativeClassifier, PixelCNNDensity,
                             PixelCNNPPDensity, PixelRNNDensity, SignalImageForecaster,
                             WaveNetDensity, WaveNetForecaster, load)
    from .auto_forecaster import AutoForecaster
    from .timeindex import IrregularIndexWarning


def __getattr__(name):
    if name in __all__:
        # the warning class lives in a torch-free module: filtering it loads no torch
        home = _HOMES.get(name, "estimators")
        value = getattr(importlib.import_module(f".{home}", __name__), name)
        globals()[name] = value         # later lookups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
