"""Image densities: PixelCNN, Gated PixelCNN, PixelCNN++ and PixelRNN as scikit-learn estimators.

An image stack is ``(n, H, W)`` or ``(n, H, W, C)`` of integer levels ``0..n_levels-1`` (uint8
for 256 levels; floats holding whole numbers, e.g. scikit-learn's ``load_digits``, are fine).
The model's order is raster order: row by row, left to right, and within a pixel channel by
channel (R, G, B). Log-likelihoods are exact log-probabilities in nats.

What the four share (input checks, training, scoring, ``sample``, ``complete``) is in
:mod:`._image_density`; each class here names its hyperparameters, their constraints and its
network.
"""

from numbers import Integral, Real

from ..constraints import Interval, Options
from ..networks.gated_pixelcnn import GatedPixelCNN
from ..networks.pixelcnn import PixelCNN
from ..networks.pixelcnn_pp import PixelCNNPP
from ..networks.pixelrnn import KINDS as _PIXELRNN_KINDS
from ..networks.pixelrnn import PixelRNN
from ._image_density import KERNEL_PARAMS, _ConvImageDensity, _ImageDensity


# Docstring parts the image densities share, joined into their docstrings below: the
# training parameters, attributes and notes of all of them, and the level and training
# lines PixelCNN and Gated PixelCNN add.
_DENSITY_TAIL_DOC = """    ema_decay : float in [0, 1) or None, default=None
        Polyak averaging of the weights: after every optimiser step the averaged weights move
        to ``ema_decay * averaged + (1 - ema_decay) * current``; validation, early stopping and
        the fitted network use the averaged weights. ``None``: the current weights.
    device : {"auto", "cpu", "cuda"}, default="auto"
    random_state : int, RandomState or None
        Controls initialisation, the split, shuffling and sampling; the global RNGs are
        untouched.
    verbose : bool, default=False
        Show a progress bar with the running loss.

    Attributes
    ----------
    network_ : torch.nn.Module
    receptive_field_ : int
        Rows above (and columns either side) a pixel's distribution can depend on.
    n_channels_ : int
    n_levels_ : int
    image_shape_ : (int, int)
        Training image height and width (the default size of :meth:`sample`).
    classes_ : ndarray or None
        Labels of a class-conditional model (``fit(X, y)``).
    class_prior_ : ndarray or None
    loss_curve_, val_loss_curve_ : list of float
        Mean NLL per sub-pixel (nats) per epoch.

    Notes
    -----
    ``sample`` and ``complete`` generate all images as one batch with cached generation
    (Ramachandran et al. 2017): each new pixel runs every layer at that pixel only, instead
    of the whole network over the whole image."""
_CONV_DENSITY_DOC = """    n_levels : int, default=256
        Levels per sub-pixel: images hold integers ``0..n_levels-1`` (256 for uint8, 2 for
        binary images).
    max_epochs, batch_size, lr, validation_fraction, patience
        Training: Adam, early stopping on a random validation split of the images, best
        weights restored. An epoch is at least 32 batches.
""" + _DENSITY_TAIL_DOC


class PixelCNNDensity(_ConvImageDensity):
    __doc__ = """PixelCNN density of images (van den Oord et al. 2016, "Pixel Recurrent Neural
    Networks"): a 7x7 mask-A conv, residual blocks of mask-B convs, colour masks, and an
    ``n_levels``-way softmax per sub-pixel. See :class:`tsargen.networks.pixelcnn.PixelCNN`.

    Parameters
    ----------
    n_layers : int, default=5
        Residual blocks after the input conv.
    hidden_channels : int, default=64
        Feature maps between blocks (``2h`` in the paper; the blocks' inner width is ``h``).
    kernel_size : int, default=3
        Odd kernel size of the blocks' masked convs.
    input_kernel_size : int, default=7
        Odd kernel size of the mask-A input conv.
""" + _CONV_DENSITY_DOC + """

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from tsargen import PixelCNNDensity
    >>> X = load_digits().images[:200].astype(np.uint8)        # (200, 8, 8), levels 0..16
    >>> d = PixelCNNDensity(n_levels=17, n_layers=2, hidden_channels=16, max_epochs=1,
    ...                     random_state=0).fit(X)
    >>> d.score_steps(X[:5]).shape, d.score_samples(X[:5]).shape
    ((5, 8, 8), (5,))
    >>> d.sample(3, random_state=0).shape
    (3, 8, 8)
    >>> d.complete(X[:2], n_known=4, n_samples=2, random_state=0).shape
    (2, 2, 8, 8)
    """

    _network = PixelCNN
    _min_hidden_per_channel = 2           # the blocks' inner width is hidden_channels // 2
    _parameter_constraints = {"hidden_channels": [Interval(Integral, 2, None)]}


class GatedPixelCNNDensity(_ConvImageDensity):
    __doc__ = """Gated PixelCNN density of images (van den Oord et al. 2016, "Conditional
    Image Generation with PixelCNN Decoders"): vertical and horizontal stacks (no blind spot),
    gated ``tanh * sigmoid`` units, the v->h link, colour masks and an ``n_levels``-way softmax
    per sub-pixel. ``fit(X, y)`` makes it class-conditional, ``sample(y=...)`` draws a class.
    See :class:`tsargen.networks.gated_pixelcnn.GatedPixelCNN`.

    Parameters
    ----------
    n_layers : int, default=5
        Gated layers after the input layer.
    hidden_channels : int, default=64
        Feature maps of each stack.
    kernel_size : int, default=3
        Odd kernel size of the gated layers (vertical ``(k//2 + 1) x k``, horizontal
        ``1 x (k//2 + 1)``).
    input_kernel_size : int, default=7
        Odd kernel size of the input layer.
""" + _CONV_DENSITY_DOC + """

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from tsargen import GatedPixelCNNDensity
    >>> digits = load_digits()
    >>> X, y = digits.images[:300].astype(np.uint8), digits.target[:300]
    >>> d = GatedPixelCNNDensity(n_levels=17, n_layers=2, hidden_channels=16, max_epochs=1,
    ...                          random_state=0).fit(X, y)
    >>> d.sample(4, y=[0, 1, 2, 3], random_state=0).shape
    (4, 8, 8)
    >>> float(d.bits_per_dim(X[:50], y[:50])) > 0
    True
    """

    _network = GatedPixelCNN
    _min_hidden_per_channel = 1


class PixelCNNPPDensity(_ImageDensity):
    __doc__ = """PixelCNN++ density of images (Salimans et al. 2017, "PixelCNN++: Improving the
    PixelCNN with Discretized Logistic Mixture Likelihood and Other Modifications"): down-shifted
    and down-right-shifted conv streams (no masks, no blind spot) over three resolutions with
    short-cut connections, gated residual blocks with concatenated ELUs and dropout, and a
    discretized logistic mixture per pixel whose colours depend linearly on each other.
    ``fit(X, y)`` makes it class-conditional, ``sample(y=...)`` draws a class. See
    :class:`tsargen.networks.pixelcnn_pp.PixelCNNPP`.

    Parameters
    ----------
    n_layers : int, default=2
        Gated residual blocks per resolution and stream (5 in the paper).
    hidden_channels : int, default=32
        Feature maps of each stream (160 in the paper).
    n_mixtures : int, default=5
        Logistic components per pixel (10 in the paper).
    dropout : float in [0, 1), default=0.5
        Dropout inside the blocks during training (0.5 as in the paper).

        The architecture defaults are small, CPU-sized settings; with them (and ``lr=2e-3``,
        ``max_epochs=40``, the defaults here) the model reached 77.4 nats per image on the
        held-out 20% of scikit-learn's digits (8x8, ``n_levels=17``, seeds 0 and 1) after a
        few CPU-minutes of training (30-37 epochs). Images of any size are accepted (padded
        internally to a multiple of 4).
    n_levels : int, default=256
        Levels per sub-pixel: images hold integers ``0..n_levels-1`` (256 for uint8, 2 for
        binary images).
    max_epochs=40, batch_size, lr=2e-3, validation_fraction, patience
        Training: Adam, early stopping on a random validation split of the images, best
        weights restored. An epoch is at least 32 batches.
""" + _DENSITY_TAIL_DOC + """

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from tsargen import PixelCNNPPDensity
    >>> digits = load_digits()
    >>> X, y = digits.images[:200].astype(np.uint8), digits.target[:200]
    >>> d = PixelCNNPPDensity(n_levels=17, n_layers=1, hidden_channels=8, n_mixtures=2,
    ...                       max_epochs=1, random_state=0).fit(X, y)
    >>> d.score_steps(X[:5], y[:5]).shape
    (5, 8, 8)
    >>> d.sample(2, y=[3, 7], random_state=0).shape
    (2, 8, 8)
    """

    _parameter_constraints = {"n_layers": [Interval(Integral, 1, None)],
                              "hidden_channels": [Interval(Integral, 1, None)],
                              "n_mixtures": [Interval(Integral, 1, None)],
                              "dropout": [Interval(Real, 0, 1)]}

    def __init__(self, *, n_layers=2, hidden_channels=32, n_mixtures=5, dropout=0.5,
                 n_levels=256, max_epochs=40, batch_size=32, lr=2e-3, validation_fraction=0.1,
                 patience=5, ema_decay=None, device="auto", random_state=None, verbose=False):
        self.n_layers = n_layers
        self.hidden_channels = hidden_channels
        self.n_mixtures = n_mixtures
        self.dropout = dropout
        self.n_levels = n_levels
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.ema_decay = ema_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _build_network(self, n_channels, n_classes):
        return PixelCNNPP(n_channels=n_channels, n_levels=self.n_levels, n_layers=self.n_layers,
                          hidden_channels=self.hidden_channels, n_mixtures=self.n_mixtures,
                          dropout=float(self.dropout), n_classes=n_classes)


class PixelRNNDensity(_ImageDensity):
    """PixelRNN density of images (van den Oord et al. 2016, "Pixel Recurrent Neural
    Networks"): a 7x7 mask-A conv, residual spatial LSTM layers (Row LSTM or Diagonal BiLSTM),
    colour masks and an ``n_levels``-way softmax per sub-pixel. ``fit(X, y)`` makes it
    class-conditional (a label bias on every gate), ``sample(y=...)`` draws a class. See
    :class:`tsargen.networks.pixelrnn.PixelRNN`.

    Parameters
    ----------
    kind : {"row_lstm", "diagonal_bilstm"}, default="diagonal_bilstm"
        ``"row_lstm"``: one row per LSTM step; a pixel sees a triangle of the rows above.
        ``"diagonal_bilstm"``: skewed column-wise LSTMs in both directions; a pixel sees every
        pixel before it.
    n_layers : int, default=2
        LSTM layers (with residual connections).
    hidden_channels : int, default=32
        Features between layers (``2h`` in the paper); each LSTM has ``hidden_channels // 2``
        units per direction. At least 2 per colour channel.
    kernel_size : int, default=3
        Odd width of the Row LSTM's input-to-state and state-to-state convs (ignored by the
        Diagonal BiLSTM).
    input_kernel_size : int, default=7
        Odd kernel size of the mask-A input conv.
    n_levels : int, default=256
        Levels per sub-pixel: images hold integers ``0..n_levels-1`` (256 for uint8, 2 for
        binary images).
    max_epochs, batch_size, lr, validation_fraction, patience
        Training: Adam, early stopping on a random validation split of the images, best
        weights restored. An epoch is at least 32 batches.
    ema_decay : float in [0, 1) or None, default=None
        Polyak averaging of the weights: after every optimiser step the averaged weights move
        to ``ema_decay * averaged + (1 - ema_decay) * current``; validation, early stopping and
        the fitted network use the averaged weights. ``None``: the current weights.
    device : {"auto", "cpu", "cuda"}, default="auto"
    random_state : int, RandomState or None
        Controls initialisation, the split, shuffling and sampling; the global RNGs are
        untouched.
    verbose : bool, default=False
        Show a progress bar with the running loss.

    Attributes
    ----------
    network_ : torch.nn.Module
    receptive_field_ : float
        ``inf``: the LSTM states carry every row above.
    n_channels_ : int
    n_levels_ : int
    image_shape_ : (int, int)
        Training image height and width (the default size of :meth:`sample`).
    classes_ : ndarray or None
        Labels of a class-conditional model (``fit(X, y)``).
    class_prior_ : ndarray or None
    loss_curve_, val_loss_curve_ : list of float
        Mean NLL per sub-pixel (nats) per epoch.

    Notes
    -----
    ``sample`` and ``complete`` generate all images as one batch and carry the LSTM
    states: each new pixel runs every layer at that pixel only (the Diagonal BiLSTM's
    right-to-left direction once per row), instead of the whole network over the whole
    image.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from tsargen import PixelRNNDensity
    >>> digits = load_digits()
    >>> X, y = digits.images[:200].astype(np.uint8), digits.target[:200]
    >>> d = PixelRNNDensity(kind="row_lstm", n_levels=17, n_layers=1, hidden_channels=8,
    ...                     max_epochs=1, random_state=0).fit(X, y)
    >>> d.score_steps(X[:5], y[:5]).shape
    (5, 8, 8)
    >>> d.sample(2, y=[3, 7], random_state=0).shape
    (2, 8, 8)
    """

    _parameter_constraints = {"kind": [Options(_PIXELRNN_KINDS)],
                              "n_layers": [Interval(Integral, 1, None)],
                              "hidden_channels": [Interval(Integral, 2, None)], **KERNEL_PARAMS}

    def __init__(self, *, kind="diagonal_bilstm", n_layers=2, hidden_channels=32, kernel_size=3,
                 input_kernel_size=7, n_levels=256, max_epochs=20, batch_size=32, lr=1e-3,
                 validation_fraction=0.1, patience=5, ema_decay=None, device="auto",
                 random_state=None, verbose=False):
        self.kind = kind
        self.n_layers = n_layers
        self.hidden_channels = hidden_channels
        self.kernel_size = kernel_size
        self.input_kernel_size = input_kernel_size
        self.n_levels = n_levels
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.ema_decay = ema_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _build_network(self, n_channels, n_classes):
        if self.hidden_channels < 2 * n_channels:
            raise ValueError(
                f"hidden_channels={self.hidden_channels} is too small for {n_channels} colour "
                f"channels: the LSTM units (hidden_channels // 2) are split into one group per "
                f"channel; use hidden_channels >= {2 * n_channels}.")
        return PixelRNN(n_channels=n_channels, n_levels=self.n_levels, kind=self.kind,
                        n_layers=self.n_layers, hidden_channels=self.hidden_channels,
                        kernel_size=self.kernel_size, input_kernel_size=self.input_kernel_size,
                        n_classes=n_classes)
