"""Network architectures, one per file.

``_image.py`` holds what the image networks share (the base class, generation, steppers);
``_pixelcnn_pp_cache.py`` is PixelCNN++'s cached generation, ``_wavenet_state.py`` WaveNet's.
"""

from .ensemble import WaveNetEnsemble
from .gated_pixelcnn import GatedPixelCNN
from .pixelcnn import PixelCNN
from .pixelcnn_pp import PixelCNNPP
from .pixelrnn import PixelRNN
from .wavenet import WaveNet, generate

# class name -> class, for loading saved models (tsargen.load never unpickles classes)
NETWORKS = {net.__name__: net for net in (WaveNet, WaveNetEnsemble, PixelCNN, GatedPixelCNN,
                                          PixelCNNPP, PixelRNN)}

__all__ = ["NETWORKS", "GatedPixelCNN", "PixelCNN", "PixelCNNPP", "PixelRNN", "WaveNet",
           "WaveNetEnsemble", "generate"]
