"""Network architectures, one per file."""

from .wavenet import WaveNet, generate
from .pixelcnn import PixelCNN
from .gated_pixelcnn import GatedPixelCNN
from .pixelcnn_pp import PixelCNNPP

NETWORKS = {"WaveNet": WaveNet}
NETWORKS["PixelCNN"] = PixelCNN
NETWORKS["GatedPixelCNN"] = GatedPixelCNN
NETWORKS["PixelCNNPP"] = PixelCNNPP

__all__ = ["NETWORKS", "WaveNet", "generate"]
__all__ += ["PixelCNN", "GatedPixelCNN"]
__all__ += ["PixelCNNPP"]
