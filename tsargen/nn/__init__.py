"""Pure PyTorch layers: causal/masked convolutions, gated blocks and distribution heads."""

from .causal import CausalConv1d, ChannelMaskedConv1d, group_ids, group_mask, split_evenly
from .gated import GatedPixelLayer, ResidualBlock, gated_activation
from .heads import (HEADS, BinnedHead, CategoricalHead, DiscretizedLogisticMixtureHead,
                    GaussianHead, Head, HeadSet, LogisticMixtureHead, StudentTHead, make_head,
                    mu_law_edges)
from .masked import (DownRightShiftedConv2d, DownRightShiftedConvTranspose2d, DownShiftedConv2d,
                     DownShiftedConvTranspose2d, MaskedConv2d, down_shift, right_shift)
from .recurrent import DiagonalBiLSTM, RowLSTM, lstm_cell, skew, unskew

__all__ = [
    "CausalConv1d", "ChannelMaskedConv1d", "group_ids", "group_mask", "split_evenly",
    "ResidualBlock", "gated_activation", "HEADS", "BinnedHead", "CategoricalHead",
    "DiscretizedLogisticMixtureHead", "GaussianHead", "Head", "HeadSet", "LogisticMixtureHead",
    "StudentTHead", "make_head", "mu_law_edges", "GatedPixelLayer", "MaskedConv2d",
    "DownShiftedConv2d", "DownRightShiftedConv2d", "DownShiftedConvTranspose2d",
    "DownRightShiftedConvTranspose2d", "down_shift", "right_shift",
]
__all__ += ["DiagonalBiLSTM", "RowLSTM", "lstm_cell", "skew", "unskew"]
