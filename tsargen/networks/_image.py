"""What the image networks share: level inputs, their checks, and raster-order generation.

:class:`~tsargen.networks.pixelcnn.PixelCNN`,
:class:`~tsargen.networks.gated_pixelcnn.GatedPixelCNN`,
:class:`~tsargen.networks.pixelcnn_pp.PixelCNNPP` and :class:`~tsargen.networks.pixelrnn.PixelRNN`
model images ``(B, C, H, W)`` of integer levels ``0..n_levels-1`` pixel by pixel in raster
order, optionally given a label per image and covariates per row. They all derive from
:class:`LevelImageNetwork`, whose one :meth:`~LevelImageNetwork.generate` fills the free rows
from a *stepper*, a per-pixel source of the network's raw output:

    stepper.begin_row(i)              # once per row
    stepper.raw(i, j, x) -> (B, P)    # x: the image so far (undrawn sub-pixels are 0)
    stepper.end_pixel(i, j, x)        # once the pixel is drawn

or, for a stepper with a ``draw_row(i, x)`` method (:class:`PixelStepper`), ``begin_row`` then
``draw_row``, which draws the whole row itself as the heads would.

:class:`NaiveStepper` runs the full network over the whole image at every step (the reference
for tests and benchmarks). Each network's cached stepper computes every layer at the current
pixel only, from buffers of the rows it needs (Ramachandran et al. 2017, "Fast Generation for
Convolutional Autoregressive Models", arXiv:1704.06001); :class:`RowBuffer`,
:func:`conv_matrix`, :func:`bias_of`, :func:`with_bias`, :class:`CachedStepper` and
:class:`PixelStepper` are its parts. Both steppers give the same raw output up to float
rounding and draw the same random numbers in the same order, so the same images (the tests
check it bit for bit).

The softmax networks (all but PixelCNN++) end the same way: ReLU, 1x1 conv, ReLU, 1x1 conv
(:func:`level_output`) and one ``n_levels``-way softmax per sub-pixel (:func:`level_heads`), with
colour masks (:func:`colour_ids`): R depends on the previous pixels, G also on R, B also on R
and G of the same pixel.
"""


import torch
import torch.nn.functional as F
from torch import nn

from ..nn.causal import group_ids, split_evenly
from ..nn.heads import HeadSet
from ..nn.masked import MaskedConv2d


# ---------------------------------------------------------------------- the softmax networks
def colour_ids(n_units, n_channels):
    """Colour group of each of ``n_units`` hidden units: ``n_channels`` near-equal groups."""
    if n_units < n_channels:
        raise ValueError(f"{n_units} hidden units cannot be split into {n_channels} colour "
                         "groups: raise hidden_channels")
    return group_ids(split_evenly(n_units, n_channels)).tolist()


def level_heads(n_channels, n_levels):
    """One ``n_levels``-way softmax per channel (exact log-probabilities): raw channel
    ``c * n_levels + k`` is the logit of level ``k`` of colour ``c``."""
    return HeadSet([{"name": "categorical",
                     "kwargs": {"n_bins": int(n_levels), "quantization": "levels"},
                     "channels": list(range(n_channels))}])


def level_output(hidden_ids, n_channels, n_levels):
    """The two 1x1 output convs (mask B): hidden ``(B, h, H, W)`` -> logits ``(B, C*L, H, W)``,
    the logits of colour ``c`` in colour group ``c``."""
    logit_ids = group_ids([n_levels] * n_channels).tolist()
    return (MaskedConv2d(hidden_ids, hidden_ids, "B", 1),
            MaskedConv2d(hidden_ids, logit_ids, "B", 1))


# ---------------------------------------------------------------------- the base class
class LevelImageNetwork(nn.Module):
    """Base of the image networks: level scaling, checks of labels and row covariates,
    ``log_prob`` through the heads, and raster-order generation.

    Subclasses call :meth:`_keep_config`, set ``heads`` (:func:`level_heads`) and ``out1``,
    ``out2`` (:func:`level_output`), and define ``_forward(x, labels, row_cond, keep=False) ->
    (raw, kept)`` (``kept``: what their cached stepper needs of the known rows) and ``_cache(x,
    first_row, labels, row_cond)``, their cached stepper. PixelCNN++ replaces the heads by its
    pixel mixture: it overrides ``forward``, ``log_prob`` and ``_draw``.
    """

    def _keep_config(self, config, n_row_features):
        """Keep ``config``, the constructor's arguments a saved model is rebuilt from (with
        ``n_row_features`` added only when nonzero, so saved configs that predate it stay
        valid), and set the attributes the family shares."""
        if n_row_features:
            config = {**config, "n_row_features": n_row_features}
        self.config = config
        self.n_channels, self.n_levels = config["n_channels"], config["n_levels"]
        self.n_classes, self.n_row_features = config["n_classes"], n_row_features

    def scale(self, x):
        """Levels ``0..n_levels-1`` -> ``[-1, 1]``."""
        return x * (2.0 / max(self.n_levels - 1, 1)) - 1.0

    def check_labels(self, labels):
        """Labels ``(B,)`` for a class-conditional network (required), else None."""
        if self.n_classes and labels is None:
            raise ValueError("this network is class-conditional: pass labels")
        return labels if self.n_classes else None

    def check_row_cond(self, row_cond, n, height):
        """Per-row covariates ``(n, F, height)``, or None for a network without them."""
        f = self.n_row_features
        if not f:
            if row_cond is not None:
                raise ValueError("this network has no row covariates (n_row_features=0): pass "
                                 "row_cond=None")
            return None
        if row_cond is None or tuple(row_cond.shape) != (n, f, height):
            got = None if row_cond is None else tuple(row_cond.shape)
            raise ValueError(f"row_cond must have shape ({n}, {f}, {height}) (B, F, H), as "
                             f"expected from the batch and image height; got {got}")
        return row_cond

    def forward(self, x, labels=None, row_cond=None):
        """``x (B, C, H, W)`` levels (float), ``labels (B,)``, ``row_cond (B, F, H)`` -> raw
        output ``(B, P, H, W)``: ``P = C * n_levels`` logits for the softmax networks."""
        labels = self.check_labels(labels)
        row_cond = self.check_row_cond(row_cond, x.shape[0], x.shape[2])
        return self._forward(x, labels, row_cond)[0]

    def logits(self, h):
        """The output convs: hidden ``(B, h, H, W)`` -> logits ``(B, C*L, H, W)``."""
        return self.out2(F.relu(self.out1(F.relu(h))))

    def log_prob(self, x, labels=None, row_cond=None):
        """Log-probability of every sub-pixel given the ones before it, ``(B, C, H, W)``, in
        nats."""
        raw = self(x, labels, row_cond).permute(0, 2, 3, 1)                 # (B, H, W, C*L)
        return self.heads.log_prob(raw, x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(self, n, height, width, labels=None, known=None, naive=False, row_cond=None):
        """Sample ``n`` images ``(n, C, height, width)`` of levels, in raster order.

        ``known (n, C, H0, width)`` gives the first ``H0`` rows, kept as they are. ``labels
        (n,)`` for a class-conditional network, ``row_cond (n, F, height)`` for per-row
        covariates (all rows, known ones included). Draws use torch's global generator (seed it
        under ``torch.random.fork_rng``). ``naive=True`` runs the full network over the whole
        image for every step; the default caches what earlier pixels computed (same draws,
        same images).
        """
        labels = self.check_labels(labels)
        row_cond = self.check_row_cond(row_cond, n, height)
        x, first_row = self._start_image(n, height, width, known)
        # the stepper's tensors are inference tensors (ops on them cost less to call); x,
        # made outside, is not
        with torch.inference_mode():
            stepper = self.stepper(x, first_row, labels, naive, row_cond)
            draw_row = getattr(stepper, "draw_row", None)
            for i in range(first_row, height):
                stepper.begin_row(i)
                if draw_row is not None:
                    draw_row(i, x)
                    continue
                for j in range(width):
                    self._draw(stepper, x, i, j)
                    stepper.end_pixel(i, j, x)
        return x

    @torch.no_grad()
    def stepper(self, x, first_row, labels=None, naive=False, row_cond=None):
        """The per-pixel source of raw output :meth:`generate` drives, for an image ``x (B, C,
        H, W)`` whose rows ``< first_row`` are known: cached, or naive (full recompute)."""
        if naive:
            return NaiveStepper(self, labels, row_cond)
        return self._cache(x, first_row, labels, row_cond)

    def known_maps(self, x, first_row, labels=None, row_cond=None):
        """What a cached stepper keeps from the known rows ``x[:, :, :first_row]``
        (``_forward(..., keep=True)[1]``), computed once per distinct (known rows, label, their
        row covariates) and copied to the images that share them: ``complete(...,
        n_samples=k)`` and a forecaster's paths repeat one known part k times, and this pass
        can cost as much as the generation."""
        rows = None if row_cond is None else row_cond[:, :, :first_row]
        known = x[:, :, :first_row]
        part = [known.flatten(1)]
        if labels is not None:
            part.append(labels[:, None].to(x.dtype))
        if rows is not None:
            part.append(rows.flatten(1))
        _, inverse = torch.unique(torch.cat(part, 1), dim=0, return_inverse=True)
        n = int(inverse.max()) + 1
        if n == x.shape[0]:
            return self._forward(known, labels, rows, keep=True)[1]
        first = inverse.new_full((n,), x.shape[0]).scatter_reduce(
            0, inverse, torch.arange(x.shape[0], device=x.device), "amin")   # an image of each

        def pick(v, index):            # batch-first tensors, in the lists/tuples _forward keeps
            if isinstance(v, (list, tuple)):
                return type(v)(pick(u, index) for u in v)
            return v if v is None else v.index_select(0, index)

        kept = self._forward(pick(known, first), pick(labels, first), pick(rows, first),
                             keep=True)[1]
        return pick(kept, inverse)

    def _draw(self, stepper, x, i, j):
        """Draw pixel ``(i, j)`` into ``x``, colour by colour: colour ``c``'s logits may
        depend on the colours ``< c`` just drawn."""
        for c in range(x.shape[1]):
            x[:, c, i, j] = self.heads.sample(stepper.raw(i, j, x))[:, c]

    def _start_image(self, n, height, width, known):
        """Image ``(n, C, height, width)`` with the known rows filled in, and the first free
        row."""
        c = self.n_channels
        x = next(self.parameters()).new_zeros(n, c, height, width)
        if known is None or known.shape[2] == 0:
            return x, 0
        if tuple(known.shape[:2]) != (n, c) or known.shape[3] != width or (
                known.shape[2] > height):
            raise ValueError(f"known has shape {tuple(known.shape)}; expected ({n}, {c}, "
                             f"<= {height}, {width})")
        x[:, :, :known.shape[2]] = known
        return x, known.shape[2]


# ---------------------------------------------------------------------- steppers
class NaiveStepper:
    """Reference stepper: the full network over the whole image for every step.

    Parameters
    ----------
    net : LevelImageNetwork
    labels : tensor ``(B,)`` or None
    row_cond : tensor ``(B, F, H)`` or None
    """

    def __init__(self, net, labels, row_cond=None):
        self.net, self.labels, self.row_cond = net, labels, row_cond

    def begin_row(self, i):
        pass

    def raw(self, i, j, x):
        return self.net(x, self.labels, self.row_cond)[:, :, i, j]                # (B, P)

    def end_pixel(self, i, j, x):
        pass


class RowBuffer:
    """The last ``n_rows`` rows of a map, channels last, zero-padded at the sides.

    ``buf (B, n_rows, left + W + right, C)``; its last row is the current row ``i``, filled
    pixel by pixel with :meth:`put`; :meth:`next_row` moves the window down by one row.

    Parameters
    ----------
    rows : tensor ``(B, C, R, W)``
        The map's rows just above the first current row (fewer than ``n_rows - 1`` rows means
        the top of the image: zero padding above them).
    n_rows : int
        Rows kept, the current one included.
    left, right : int
        Zero columns on either side (a conv's padding).
    """

    def __init__(self, rows, n_rows, left, right):
        b, c, r, w = rows.shape
        self.left = left
        self.buf = rows.new_zeros(b, n_rows, left + w + right, c)
        keep = min(r, n_rows - 1)
        if keep:
            self.buf[:, n_rows - 1 - keep:n_rows - 1, left:left + w] = (
                rows[:, :, r - keep:].permute(0, 2, 3, 1))

    def next_row(self):
        self.buf = torch.cat([self.buf[:, 1:], torch.zeros_like(self.buf[:, :1])], dim=1)

    def advance(self):
        """:meth:`next_row` in place: views of ``buf`` (:meth:`cells`, :meth:`windows`) stay
        valid, and now show the next row."""
        self.buf[:, :-1] = self.buf[:, 1:].clone()
        self.buf[:, -1] = 0

    def put(self, j, value):  # value (B, C)
        self.buf[:, -1, self.left + j] = value

    def put_row(self, value):  # value (B, W, C): the whole current row
        self.buf[:, -1, self.left:self.left + value.shape[1]] = value

    def window(self, j, width, rows=slice(None)):
        """The ``width`` padded columns starting at ``j`` (input columns ``j - left ..``),
        flattened as ``(B, rows * width * C)``."""
        return self.buf[:, rows, j:j + width].reshape(self.buf.shape[0], -1)

    def cells(self, width):
        """Views ``(B, C)`` of the current row's ``width`` columns, one per column."""
        return [self.buf[:, -1, self.left + j] for j in range(width)]

    def windows(self, width, n_cols):
        """Views ``(B, n_cols * C)`` of the current row, one per output column ``j <
        width``: the ``n_cols`` padded columns starting at ``j``, as :meth:`window`."""
        b = self.buf.shape[0]
        return [self.buf[:, -1, j:j + n_cols].view(b, -1) for j in range(width)]

    def conv_rows(self, matrix, n_rows, bias, out):
        """A conv over the first ``n_rows`` rows of the buffer at every column of a row, into
        ``out (B, W, C_out)``: ``matrix`` is :func:`conv_matrix` of its weight ``(C_out, C,
        n_rows, left + 1 + right)``, ``bias (B, C_out)``. One matmul over all columns' windows
        (at a few images it costs a fraction of ``F.conv2d``'s call)."""
        if n_rows == 0:                                   # a one-row kernel: the bias only
            return out.copy_(bias[:, None].expand_as(out))
        b, _, padded, c = self.buf.shape
        kw = matrix.shape[0] // (n_rows * c)
        w = padded - kw + 1
        s = self.buf.stride()
        windows = self.buf.as_strided((b, w, n_rows, kw * c), (s[0], s[2], s[1], s[3]),
                                      self.buf.storage_offset())      # (B, W, rows, kw * C)
        conv = torch.mm(windows.reshape(b * w, -1), matrix).view(b, w, -1)
        return torch.add(conv, bias[:, None], out=out)


def conv_matrix(weight, channels_last=True):
    """Conv weight ``(C_out, C_in, kh, kw)`` -> matrix ``(kh * kw * C_in, C_out)`` for one
    output position as one matmul. Its rows are in (row, column, channel) order, that of
    :meth:`RowBuffer.window`, or with ``channels_last=False`` in (channel, row, column) order,
    that of a ``(B, C, kh, kw)`` window flattened."""
    order = (2, 3, 1, 0) if channels_last else (1, 2, 3, 0)
    return weight.permute(*order).reshape(-1, weight.shape[0]).contiguous()


def bias_of(conv):
    """A conv's bias ``(C_out,)``, zeros if it has none."""
    return conv.bias.detach() if conv.bias is not None else conv.weight.new_zeros(
        conv.weight.shape[0])


class CachedStepper:
    """Base of the softmax networks' cached steppers: the scaled image's rows and the output
    convs at one pixel.

    ``image`` holds the last ``k // 2`` rows above the current one and the current row,
    zero-padded by ``k // 2`` columns either side, for a first layer of odd kernel size ``k``
    (a :class:`RowBuffer` of ``(B, C)`` pixels). Subclasses move it down in ``begin_row``.

    Parameters
    ----------
    net : LevelImageNetwork
        A softmax network (with ``out1``, ``out2``).
    x : tensor ``(B, C, H, W)``
        The image being generated; its rows ``< first_row`` are known.
    first_row : int
    kernel_size : int
        The first layer's odd kernel width ``k``.
    """

    def __init__(self, net, x, first_row, kernel_size):
        half = kernel_size // 2
        self.net, self.first_row = net, first_row
        self.image = RowBuffer(net.scale(x[:, :, :first_row]), half + 1, half, half)
        self.out = (conv_matrix(net.out1.masked_weight()), bias_of(net.out1),
                    conv_matrix(net.out2.masked_weight()), bias_of(net.out2))

    def put_pixel(self, i, j, x):
        """Pixel ``(i, j)`` of ``x``, scaled, into the image rows (its colours not drawn yet
        are 0; the colour masks keep them unseen)."""
        self.image.put(j, self.net.scale(x[:, :, i, j]))

    def output(self, h):
        """:meth:`LevelImageNetwork.logits` at one pixel: ``(B, h) -> (B, C*L)``."""
        w1, b1, w2, b2 = self.out
        return torch.addmm(b2, torch.addmm(b1, F.relu(h), w1).relu_(), w2)

    def end_pixel(self, i, j, x):
        # Hidden group g of pixel (i, j) sees colours < g of that pixel only, so the values the
        # last colour's pass stored are final; the image row still needs the full pixel.
        self.put_pixel(i, j, x)


def with_bias(matrix, bias, ones=False):
    """Matrix ``(K, N)`` and bias ``(N,)`` -> ``(K + 1, N)``, the bias as a last row, for an
    input with a last column of ones: ``[x, 1] @ m == x @ matrix + bias`` in one matmul. With
    ``ones``, a last column that copies the input's ones to the output, ``(K + 1, N + 1)``."""
    m = torch.cat([matrix, bias[None]])
    if ones:
        m = torch.cat([m, torch.zeros_like(m[:, :1])], dim=1)
        m[-1, -1] = 1.0
    return m.contiguous()


class PixelStepper(CachedStepper):
    """Base of the PixelCNN and Gated PixelCNN cached steppers: a pixel is a fixed sequence of
    ``out=`` and in-place ops on buffers allocated once, and :meth:`draw_row` draws a row.

    At one image a step costs what calling its ops costs, not arithmetic, so a pixel does
    only the work of its own row: what the rows above give every column of the row is
    computed once when the row starts (``begin_row`` of a subclass, one conv per layer), and
    buffers, their per-column views and the matrices (biases folded in as a last input
    column of ones, :func:`with_bias`) once per generation. A subclass defines
    ``_hidden(j) -> (B, H)``, the last hidden layer at column ``j`` of the current row, read
    from the image row (``self.image``, its current pixel included).

    :meth:`draw_row` samples as the categorical heads do (softmax, cumulative sum, binary
    search of one uniform; the uniforms of the whole row drawn in one call on the CPU, whose
    generator fills a tensor in order, so the numbers are those of one call per draw) and
    writes the scaled levels straight into the image row.
    """

    def __init__(self, net, x, first_row, kernel_size):
        super().__init__(net, x, first_row, kernel_size)
        n, c, _, w = x.shape
        n_levels = net.n_levels
        self.width = w
        w1, b1, w2, b2 = self.out
        hidden = w1.shape[0]
        # relu(h) with a column of ones: the input of every matmul from the hidden layer
        self.relu_h = x.new_ones(n, hidden + 1)
        self.relu_view = self.relu_h[:, :hidden]
        self.w1, self.w2 = with_bias(w1, b1, ones=True), with_bias(w2, b2)
        self.o1, self.logits = x.new_empty(n, w1.shape[1] + 1), x.new_empty(n, w2.shape[1])
        # sampling: probabilities, the cdf up to the last level (a search in it returns at
        # most n_levels - 1, as the heads' clamp), uniforms and levels of the row
        self.probs, self.cdf = x.new_empty(n, n_levels), x.new_empty(n, n_levels - 1)
        self.table = net.scale(torch.arange(n_levels, dtype=x.dtype, device=x.device))
        self.uniforms = x.new_empty(w, c, 2, n, c, 1)            # (W, colour, draw shape)
        self.u = x.new_empty(w, c, n, 1)
        self.levels = torch.zeros(n, w, c, dtype=torch.long, device=x.device)
        # one call for the uniforms of a row where that gives the numbers of one call per draw
        self.row_uniforms = x.device.type == "cpu"
        cells = self.image.cells(w)
        self.draws = [[(self.u[j, ch], self.levels[:, j, ch:ch + 1], self.levels[:, j, ch],
                        cells[j][:, ch]) for ch in range(c)] for j in range(w)]
        self.logit_cols = [self.logits[:, ch * n_levels:(ch + 1) * n_levels] for ch in range(c)]

    def _output(self, h):
        """The output convs at one pixel, ``(B, H) -> (B, C*L)`` into ``self.logits``."""
        torch.clamp_min(h, 0.0, out=self.relu_view)
        torch.mm(self.relu_h, self.w1, out=self.o1).relu_()
        return torch.mm(self.o1, self.w2, out=self.logits)

    def raw(self, i, j, x):
        self.put_pixel(i, j, x)
        return self._output(self._hidden(j)).clone()

    def _draw_uniforms(self):
        """The row's uniforms: ``u[j, c]`` is what the heads' draw for colour ``c`` of pixel
        ``j`` uses."""
        self.uniforms.uniform_()
        picked = torch.diagonal(self.uniforms[:, :, 0, :, :, 0], dim1=1, dim2=3)  # (W, B, C)
        self.u.copy_(picked.permute(0, 2, 1)[..., None])

    def draw_row(self, i, x):
        """Draw row ``i`` into ``x``, pixel by pixel and colour by colour."""
        per_call = not self.row_uniforms
        if not per_call:
            self._draw_uniforms()
        n, c = x.shape[:2]
        probs, cdf, table = self.probs, self.cdf, self.table
        head = probs[:, :-1]
        for j in range(self.width):
            for ch, (u, level, level_flat, cell) in enumerate(self.draws[j]):
                self._output(self._hidden(j))
                if per_call:
                    u.copy_(torch.rand((2, n, c, 1), dtype=x.dtype, device=x.device)[0, :, ch])
                torch.softmax(self.logit_cols[ch], -1, out=probs)
                torch.cumsum(head, -1, out=cdf)
                torch.searchsorted(cdf, u, out=level)
                torch.index_select(table, 0, level_flat, out=cell)
        x[:, :, i] = self.levels.permute(0, 2, 1)
