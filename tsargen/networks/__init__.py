"""Network architectures, one per file."""

from .wavenet import WaveNet, generate

NETWORKS = {"WaveNet": WaveNet}

__all__ = ["NETWORKS", "WaveNet", "generate"]
