"""PixelCNN for images of integer levels.

van den Oord, Kalchbrenner and Kavukcuoglu 2016, "Pixel Recurrent Neural Networks"
(arXiv:1601.06759), §3.5 (masks: §3.4) and Figure 5: a 7x7 masked convolution (mask A), then
residual blocks (ReLU, 1x1 conv 2h -> h, ReLU, kxk masked conv (mask B) h -> h, ReLU, 1x1 conv
h -> 2h, added to the block input), then ReLU, 1x1 conv, ReLU, 1x1 conv (mask B) and one
``n_levels``-way softmax per sub-pixel. Every hidden layer is split into one channel group per colour; the colour masks
make R depend on the previous pixels, G also on R, B also on R and G of the same pixel:

    p(x) = prod_i p(x_i,R | x_<i) p(x_i,G | x_<i, x_i,R) p(x_i,B | x_<i, x_i,R, x_i,G).

The stacked masked convs leave a *blind spot*: some pixels above and to the right of the current
one are never seen, however deep the network (Gated PixelCNN removes it; see
``gated_pixelcnn.py``).

Generation caches what earlier pixels already computed (Ramachandran et al. 2017, "Fast
Generation for Convolutional Autoregressive Models", arXiv:1704.06001): each masked conv keeps
the last rows of its input map, and producing a pixel runs every layer at that one pixel only.
:func:`sample_raster` is the shared raster-order sampling loop; the naive path runs the full
network over the whole image for every sub-pixel and is kept as the reference for tests and
benchmarks.

NOTE (input): the levels ``0..n_levels-1`` enter the network rescaled to ``[-1, 1]``.
NOTE (binary images): the paper uses a sigmoid for binary MNIST; ``n_levels=2`` gives a 2-way
softmax, the same family.
NOTE (labels): with ``n_classes > 0`` every residual block adds a per-class bias after its kxk
conv (the conditioning of Gated PixelCNN; the original PixelCNN is unconditional). The biases
start at zero.
NOTE (row covariates): with ``n_row_features = F > 0`` the network takes ``row_cond (B, F, H)``,
one feature vector per row (e.g. exogenous covariates of a signal-image's timesteps); a 1x1 map
of it is added as a bias to the input conv and to every block's kxk conv, the same for every
column of the row. The covariates are given, not modelled, so any row may see any of them.
NOTE (kernel sizes): the residual blocks use ``kernel_size`` (3 in the paper) and the input conv
``input_kernel_size`` (7 in the paper); both must be odd.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.causal import group_ids, split_evenly
from ..nn.heads import HeadSet
from ..nn.masked import MaskedConv2d


def level_heads(n_channels, n_levels):
    """Head specs: one ``n_levels``-way softmax per channel (exact log-probabilities)."""
    return [{"name": "categorical", "kwargs": {"n_bins": int(n_levels), "quantization": "levels"},
             "channels": list(range(n_channels))}]


def colour_ids(n_units, n_channels):
    """Colour group of each of ``n_units`` hidden units: ``n_channels`` near-equal groups."""
    if n_units < n_channels:
        raise ValueError(f"{n_units} hidden units cannot be split into {n_channels} colour "
                         "groups: raise hidden_channels")
    return group_ids(split_evenly(n_units, n_channels)).tolist()


class PixelCNNBlock(nn.Module):
    """Residual block of the PixelRNN paper's Figure 5, with mask B in every conv.

    ``(B, 2h, H, W) -> (B, 2h, H, W)``: ReLU, 1x1 (2h -> h), ReLU, kxk masked (h -> h)
    [+ class bias], ReLU, 1x1 (h -> 2h), plus the input.

    Parameters
    ----------
    outer_ids, inner_ids : list of int
        Colour group of each of the ``2h`` outer and ``h`` inner channels.
    kernel_size : int
    n_classes : int
        Number of labels for the class bias; 0 for none.
    n_row_features : int
        Per-row covariates ``row_cond (B, F, H)`` for the row bias; 0 for none.
    """

    def __init__(self, outer_ids, inner_ids, kernel_size=3, n_classes=0, n_row_features=0):
        super().__init__()
        self.row_bias = (nn.Conv1d(n_row_features, len(inner_ids), 1, bias=False)
                         if n_row_features else None)
        self.reduce = MaskedConv2d(outer_ids, inner_ids, "B", 1)
        self.conv = MaskedConv2d(inner_ids, inner_ids, "B", kernel_size)
        self.expand = MaskedConv2d(inner_ids, outer_ids, "B", 1)
        self.label_bias = nn.Embedding(n_classes, len(inner_ids)) if n_classes else None
        if n_classes:
            nn.init.zeros_(self.label_bias.weight)

    def conv_input(self, h):
        """The kxk conv's input map: ``(B, 2h, H, W) -> (B, h, H, W)``."""
        return F.relu(self.reduce(F.relu(h)))

    def forward(self, h, labels=None, row_cond=None):
        z = self.conv(self.conv_input(h))                                   # (B, h, H, W)
        if self.label_bias is not None:
            z = z + self.label_bias(labels)[:, :, None, None]
        if self.row_bias is not None:
            z = z + self.row_bias(row_cond)[:, :, :, None]                  # (B, h, H, 1)
        return h + self.expand(F.relu(z))


class LevelImageNetwork(nn.Module):
    """What every image network of the family shares: the level scaling of its input, the
    checks of labels and per-row covariates, and ``log_prob`` through its heads. Subclasses set
    ``n_levels``, ``n_classes``, ``n_row_features`` and ``heads`` (PixelCNN++ replaces the
    heads by its pixel mixture and its own ``log_prob``)."""

    def log_prob(self, x, labels=None, row_cond=None):
        """Log-probability of every sub-pixel, ``(B, C, H, W)``, in nats."""
        raw = self(x, labels, row_cond).permute(0, 2, 3, 1)                 # (B, H, W, C*L)
        return self.heads.log_prob(raw, x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def scale(self, x):
        """Levels ``0..n_levels-1`` -> ``[-1, 1]``."""
        return x * (2.0 / max(self.n_levels - 1, 1)) - 1.0

    def check_labels(self, labels):
        if self.n_classes and labels is None:
            raise ValueError("this network is class-conditional: pass labels")
        return labels if self.n_classes else None

    def check_row_cond(self, row_cond, n, height):
        return check_row_cond(self.n_row_features, row_cond, n, height)


class PixelCNN(LevelImageNetwork):
    """PixelCNN: masked conv stack with an ``n_levels``-way softmax per sub-pixel.

    Parameters
    ----------
    n_channels : int
        Colour channels ``C`` (1 for greyscale, 3 for RGB).
    n_levels : int
        Levels per sub-pixel (256 for uint8 images, 2 for binary).
    n_layers : int
        Residual blocks after the input conv.
    hidden_channels : int
        Feature maps ``2h`` between blocks (the blocks' inner width is ``h``).
    kernel_size, input_kernel_size : int
        Odd kernel sizes of the blocks' masked convs and of the input conv.
    n_classes : int
        Number of labels (class-conditional model); 0 for none.
    n_row_features : int
        Per-row covariates ``row_cond (B, F, H)`` taken by ``forward``, ``log_prob`` and
        ``generate``; 0 for none.

    Attributes
    ----------
    receptive_field : int
        ``r = input_kernel_size // 2 + n_layers * (kernel_size // 2)``: the distribution of
        pixel ``(i, j)`` depends on pixels in rows ``i - r .. i - 1`` and columns
        ``j - r .. j + r``, and on row ``i`` at columns ``j - r .. j - 1``, at most. Some
        pixels of that region above and to the right are not seen (the blind spot).
    heads : HeadSet
        The categorical heads; raw channel ``c * n_levels + k`` is the logit of level ``k``
        of colour ``c``.

    Examples
    --------
    >>> net = PixelCNN(n_channels=3, n_levels=4, n_layers=2, hidden_channels=12)
    >>> x = torch.randint(0, 4, (2, 3, 5, 6)).float()           # (B, C, H, W) levels
    >>> net(x).shape                                             # (B, C * n_levels, H, W)
    torch.Size([2, 12, 5, 6])
    >>> net.log_prob(x).shape                                    # (B, C, H, W)
    torch.Size([2, 3, 5, 6])
    >>> net.generate(2, 4, 4).shape                              # sampled levels
    torch.Size([2, 3, 4, 4])
    """

    def __init__(self, n_channels=1, n_levels=256, n_layers=5, hidden_channels=64,
                 kernel_size=3, input_kernel_size=7, n_classes=0, n_row_features=0):
        super().__init__()
        self.config = dict(n_channels=n_channels, n_levels=n_levels, n_layers=n_layers,
                           hidden_channels=hidden_channels, kernel_size=kernel_size,
                           input_kernel_size=input_kernel_size, n_classes=n_classes)
        if n_row_features:                  # only when used: older saved configs stay valid
            self.config["n_row_features"] = n_row_features
        c = self.n_channels = n_channels
        self.n_levels, self.n_classes, self.n_row_features = n_levels, n_classes, n_row_features
        self.heads = HeadSet(level_heads(c, n_levels))
        outer = colour_ids(hidden_channels, c)                      # 2h channels
        inner = colour_ids(hidden_channels // 2, c)                 # h channels
        params = group_ids([n_levels] * c).tolist()                 # logits of colour c -> c
        self.input = MaskedConv2d(list(range(c)), outer, "A", input_kernel_size)
        self.input_row_bias = (nn.Conv1d(n_row_features, len(outer), 1, bias=False)
                               if n_row_features else None)
        self.blocks = nn.ModuleList(PixelCNNBlock(outer, inner, kernel_size, n_classes,
                                                  n_row_features) for _ in range(n_layers))
        self.out1 = MaskedConv2d(outer, outer, "B", 1)
        self.out2 = MaskedConv2d(outer, params, "B", 1)
        self.receptive_field = input_kernel_size // 2 + n_layers * (kernel_size // 2)

    # ------------------------------------------------------------------ full forward pass
    def forward(self, x, labels=None, row_cond=None):
        """``x (B, C, H, W)`` levels (float), ``labels (B,)``, ``row_cond (B, F, H)`` -> raw
        logits ``(B, C*L, H, W)``."""
        return self._forward(x, self.check_labels(labels),
                             self.check_row_cond(row_cond, x.shape[0], x.shape[2]))[0]

    def _forward(self, x, labels, row_cond=None, keep=False):
        """Logits, and with ``keep`` the input map of every kxk masked conv (for caching)."""
        h = self.scale(x)
        maps = [h] if keep else None
        h = self.input(h)                                                   # (B, 2h, H, W)
        if self.input_row_bias is not None:
            h = h + self.input_row_bias(row_cond)[:, :, :, None]            # (B, 2h, H, 1)
        for block in self.blocks:
            if keep:
                maps.append(block.conv_input(h))                            # (B, h, H, W)
            h = block(h, labels, row_cond)
        return self.out2(F.relu(self.out1(F.relu(h)))), maps

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(self, n, height, width, labels=None, known=None, naive=False, row_cond=None):
        """Sample ``n`` images ``(n, C, height, width)`` of levels, in raster order.

        ``known (n, C, H0, width)`` gives the first ``H0`` rows, kept as they are. ``labels
        (n,)`` for a class-conditional network, ``row_cond (n, F, height)`` for per-row
        covariates (all rows, known ones included). Draws use torch's global generator (seed it
        under ``torch.random.fork_rng``). ``naive=True`` runs the full network over the whole
        image for every sub-pixel; the default caches per-layer rows (same draws, same images).
        """
        labels = self.check_labels(labels)
        row_cond = self.check_row_cond(row_cond, n, height)
        x, first = start_image(self, n, height, width, known)
        return sample_raster(self, x, first, self.stepper(x, first, labels, naive, row_cond))

    @torch.no_grad()
    def stepper(self, x, first_row, labels=None, naive=False, row_cond=None):
        """The per-pixel logits source :func:`sample_raster` drives, for an image ``x (B, C,
        H, W)`` whose rows ``< first_row`` are known: cached, or naive (full recompute)."""
        return NaiveStepper(self, labels, row_cond) if naive else _PixelCNNCache(
            self, x, first_row, labels, row_cond)


# ---------------------------------------------------------------------- generation, shared
def check_row_cond(n_row_features, row_cond, n, height):
    """Validate per-row covariates ``(n, F, height)`` (or None for a network without them)."""
    if not n_row_features:
        if row_cond is not None:
            raise ValueError("this network has no row covariates (n_row_features=0): pass "
                             "row_cond=None")
        return None
    if row_cond is None or tuple(row_cond.shape) != (n, n_row_features, height):
        got = None if row_cond is None else tuple(row_cond.shape)
        raise ValueError(f"row_cond must have shape ({n}, {n_row_features}, {height}) "
                         f"(B, F, H), as expected from the batch and image height; got {got}")
    return row_cond


def start_image(net, n, height, width, known):
    """Image ``(n, C, height, width)`` with the known rows filled in, and the first free row."""
    ref = next(net.parameters())
    x = ref.new_zeros(n, net.n_channels, height, width)
    if known is None or known.shape[2] == 0:
        return x, 0
    if tuple(known.shape[:2]) != (n, net.n_channels) or known.shape[3] != width or (
            known.shape[2] > height):
        raise ValueError(f"known has shape {tuple(known.shape)}; expected ({n}, "
                         f"{net.n_channels}, <= {height}, {width})")
    x[:, :, :known.shape[2]] = known
    return x, known.shape[2]


def sample_raster(net, x, first_row, stepper):
    """Fill rows ``>= first_row`` of ``x (B, C, H, W)`` in raster order, colour by colour.

    ``stepper`` gives the logits: ``begin_row(i)``, ``raw(i, j, x) -> (B, P)`` for pixel
    ``(i, j)`` (``x`` holds the colours drawn so far; the rest are 0) and ``end_pixel(i, j, x)``
    once the pixel is complete. Every path draws through ``net.heads.sample`` on ``(B, P)``
    logits in the same order, so cached and naive steppers use the same random numbers.
    """
    _, c, h, w = x.shape
    for i in range(first_row, h):
        stepper.begin_row(i)
        for j in range(w):
            for ch in range(c):
                x[:, ch, i, j] = net.heads.sample(stepper.raw(i, j, x))[:, ch]
            stepper.end_pixel(i, j, x)
    return x


class NaiveStepper:
    """Reference: the full network over the whole image for every sub-pixel."""

    def __init__(self, net, labels, row_cond=None):
        self.net, self.labels, self.row_cond = net, labels, row_cond

    def begin_row(self, i):
        pass

    def raw(self, i, j, x):
        if self.row_cond is None:
            return self.net(x, self.labels)[:, :, i, j]                     # (B, P)
        return self.net(x, self.labels, self.row_cond)[:, :, i, j]

    def end_pixel(self, i, j, x):
        pass


class RowBuffer:
    """The last ``n_rows`` rows of a map, channels last, zero-padded at the sides.

    ``buf (B, n_rows, left + W + right, C)``; its last row is the current row ``i``, filled
    pixel by pixel with :meth:`put`; :meth:`next_row` moves the window down by one row.
    """

    def __init__(self, rows, n_rows, left, right):
        """``rows (B, C, R, W)``: the rows just above the first current row (fewer rows than
        ``n_rows - 1`` means the top of the image: zero padding)."""
        b, c, r, w = rows.shape
        self.left = left
        self.buf = rows.new_zeros(b, n_rows, left + w + right, c)
        keep = min(r, n_rows - 1)
        if keep:
            self.buf[:, n_rows - 1 - keep:n_rows - 1, left:left + w] = (
                rows[:, :, r - keep:].permute(0, 2, 3, 1))

    def next_row(self):
        self.buf = torch.cat([self.buf[:, 1:], torch.zeros_like(self.buf[:, :1])], dim=1)

    def put(self, j, value):  # value (B, C)
        self.buf[:, -1, self.left + j] = value

    def window(self, j, width, rows=slice(None)):
        """The ``width`` padded columns starting at ``j`` (input columns ``j - left ..``),
        flattened as ``(B, rows * width * C)``."""
        return self.buf[:, rows, j:j + width].reshape(self.buf.shape[0], -1)


def conv_matrix(weight):
    """Conv weight ``(C_out, C_in, kh, kw)`` -> ``(kh * kw * C_in, C_out)``, matching
    :meth:`RowBuffer.window`'s (row, column, channel) order."""
    return weight.permute(2, 3, 1, 0).reshape(-1, weight.shape[0]).contiguous()


def bias_of(conv):
    return conv.bias.detach() if conv.bias is not None else conv.weight.new_zeros(
        conv.weight.shape[0])


def _row_biases(bias, row_map, row_cond):
    """Per-image bias ``(B, n)`` plus the 1x1 map of the row covariates -> ``(B, H, n)``, or
    ``(B, 1, n)`` without covariates (the same bias for every row)."""
    if row_map is None:
        return bias[:, None].contiguous()
    return (bias[:, None] + row_map(row_cond).transpose(1, 2)).contiguous()  # (B, H, n)


class _PixelCNNCache:
    """Cached generation: every masked conv keeps the last rows of its input map; a pixel is
    computed by running each layer at that pixel only (Ramachandran et al. 2017)."""

    def __init__(self, net, x, first_row, labels, row_cond=None):
        n = x.shape[0]
        k_in = net.input.kernel_size[0]
        known = x[:, :, :first_row]
        known_cond = None if row_cond is None else row_cond[:, :, :first_row]
        maps = net._forward(known, labels, known_cond, keep=True)[1] if first_row else (
            [net.scale(known)] + [known.new_zeros(n, b.conv.in_channels, 0, x.shape[3])
                                  for b in net.blocks])
        # the image, then the kxk conv input of every block: top rows + current row
        self.image = RowBuffer(maps[0], k_in // 2 + 1, k_in // 2, k_in // 2)
        self.w_in, self.k_in = conv_matrix(net.input.masked_weight()[:, :, :k_in // 2 + 1]), k_in
        # biases per image and row: (B, H, channels); the row covariates' part varies by row
        self.b_in = _row_biases(bias_of(net.input).expand(n, -1), net.input_row_bias, row_cond)
        self.blocks = []
        for block, m in zip(net.blocks, maps[1:]):
            k = block.conv.kernel_size[0]
            bias = bias_of(block.conv).expand(n, -1)
            if block.label_bias is not None:
                bias = bias + block.label_bias(labels)                     # (B, h)
            self.blocks.append((
                RowBuffer(m, k // 2 + 1, k // 2, k // 2), k,
                conv_matrix(block.reduce.masked_weight()), bias_of(block.reduce),
                conv_matrix(block.conv.masked_weight()[:, :, :k // 2 + 1]),
                _row_biases(bias, block.row_bias, row_cond),
                conv_matrix(block.expand.masked_weight()), bias_of(block.expand)))
        self.out = (conv_matrix(net.out1.masked_weight()), bias_of(net.out1),
                    conv_matrix(net.out2.masked_weight()), bias_of(net.out2))
        self.net, self.first_row = net, first_row

    def begin_row(self, i):
        if i > self.first_row:
            self.image.next_row()
            for block in self.blocks:
                block[0].next_row()

    def raw(self, i, j, x):
        self.image.put(j, self.net.scale(x[:, :, i, j]))      # drawn colours; others unseen
        r = min(i, self.b_in.shape[1] - 1)                    # row i's bias (one row if constant)
        h = torch.addmm(self.b_in[:, r], self.image.window(j, self.k_in), self.w_in)  # (B, 2h)
        for rows, k, w_red, b_red, w_conv, b_conv, w_exp, b_exp in self.blocks:
            a = torch.addmm(b_red, F.relu(h), w_red).relu_()                       # (B, h)
            rows.put(j, a)
            z = torch.addmm(b_conv[:, r], rows.window(j, k), w_conv).relu_()       # (B, h)
            h = torch.addmm(h, z, w_exp).add_(b_exp)                               # (B, 2h)
        w1, b1, w2, b2 = self.out
        return torch.addmm(b2, torch.addmm(b1, F.relu(h), w1).relu_(), w2)        # (B, P)

    def end_pixel(self, i, j, x):
        # Hidden group g of pixel (i, j) sees colours < g of that pixel only, so the values
        # the last colour's pass stored are final; the image row still needs the full pixel.
        self.image.put(j, self.net.scale(x[:, :, i, j]))
