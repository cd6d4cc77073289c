"""Network architectures, one per file."""

from .wavenet import WaveNet, generate
from .pixelcnn import PixelCNN
from .gated_pixelcnn import GatedPixelCNN
from .pixelrnn import PixelRNN

NETWORKS = {"WaveNet": WaveNet}
NETWORKS["PixelCNN"] = PixelCNN
NETWORKS["GatedPixelCNN"] = GatedPixelCNN
NETWORKS["PixelRNN"] = PixelRNN

__all__ = ["NETWORKS", "WaveNet", "generate"]
__all__ += ["PixelCNN", "GatedPixelCNN"]
__all__ += ["PixelRNN"]
