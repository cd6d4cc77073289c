"""Network architectures, one per file."""

from .wavenet import WaveNet, generate
from .pixelcnn import PixelCNN
from .gated_pixelcnn import GatedPixelCNN

NETWORKS = {"WaveNet": WaveNet}
NETWORKS["PixelCNN"] = PixelCNN
NETWORKS["GatedPixelCNN"] = GatedPixelCNN

__all__ = ["NETWORKS", "WaveNet", "generate"]
__all__ += ["PixelCNN", "GatedPixelCNN"]
