"""PixelCNN / Gated PixelCNN networks and their layers: masks, causality by gradient (float64),
the blind spot, cached == naive generation."""

import itertools

import pytest
import torch

from tsargen.networks import NETWORKS, GatedPixelCNN, PixelCNN
from tsargen.nn.gated import GatedPixelLayer
from tsargen.nn.masked import (DownRightShiftedConv2d, DownRightShiftedConvTranspose2d,
                               DownShiftedConv2d, DownShiftedConvTranspose2d, MaskedConv2d)

NETS = [PixelCNN, GatedPixelCNN]


def _net(cls, c=1, n_levels=4, n_classes=0, **kw):
    torch.manual_seed(0)
    net = cls(n_channels=c, n_levels=n_levels, n_classes=n_classes,
              **{"n_layers": 2, "hidden_channels": 12, **kw}).double()
    with torch.no_grad():                     # label biases start at zero: make them matter
        for name, p in net.named_parameters():
            if "label" in name:
                p.normal_(0.0, 1.0)
    return net


def _seen(module, x, out_index, n_draws=4):
    """Union over random inputs of the input positions with a nonzero gradient for one output
    entry (a ReLU or gate may be off for one input): bool ``(C_in, H, W)``."""
    seen = torch.zeros(x.shape[1:], dtype=torch.bool)
    for _ in range(n_draws):
        xi = torch.randn_like(x).requires_grad_(True)
        module(xi)[out_index].sum().backward()
        seen |= xi.grad[0] != 0
    return seen


# ---------------------------------------------------------------------- layers
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv_sees_rows_above_and_left_only(mask_type):
    conv = MaskedConv2d([0], [0, 0], mask_type, kernel_size=5).double()
    seen = _seen(conv, torch.zeros(1, 1, 9, 9, dtype=torch.float64), (0, slice(None), 4, 4))[0]
    expected = torch.zeros(9, 9, dtype=torch.bool)
    expected[2:4, 2:7] = True                                 # two rows above, 5 columns
    expected[4, 2:4] = True                                   # left part of the centre row
    expected[4, 4] = mask_type == "B"
    assert torch.equal(seen, expected)


def test_masked_conv_colour_masks_and_buffers():
    conv = MaskedConv2d([0, 1, 2], [0, 1, 1, 2], "A", kernel_size=3).double()
    x = torch.zeros(1, 3, 5, 5, dtype=torch.float64)
    for out, own in [(0, set()), (1, {0}), (2, {0}), (3, {0, 1})]:
        seen = _seen(conv, x, (0, out, 2, 2))
        assert {c for c in range(3) if seen[c, 2, 2]} == own
        assert seen[:, 1, 1:4].all() and seen[:, 2, 1].all()   # every colour of earlier pixels
        assert not seen[:, 3:].any() and not seen[:, 2, 3:].any()
    assert "mask" in dict(conv.named_buffers()) and "mask" not in dict(conv.named_parameters())
    before = conv.weight.detach().clone()
    conv(torch.randn(2, 3, 5, 5, dtype=torch.float64))
    assert torch.equal(conv.weight, before)                  # never masked in place
    assert (conv.weight * (1 - conv.mask)).abs().sum() > 0   # masked taps keep their values
    b = MaskedConv2d([0, 1, 2], [0, 1, 2], "B", kernel_size=1)
    assert torch.equal(b.mask[:, :, 0, 0], torch.tensor([[1., 0, 0], [1, 1, 0], [1, 1, 1]]))
    with pytest.raises(ValueError, match="odd"):
        MaskedConv2d([0], [0], "A", kernel_size=4)


def test_full_and_cropped_masked_conv_agree():
    conv = MaskedConv2d([0, 1], [0, 1, 1], "B", kernel_size=(5, 3)).double()
    x = torch.randn(2, 2, 6, 7, dtype=torch.float64)
    full = torch.nn.functional.conv2d(x, conv.masked_weight(), conv.bias, padding=(2, 1))
    assert torch.allclose(conv(x), full, atol=1e-12)


def test_shifted_convs_and_their_transposes():
    x = torch.zeros(1, 2, 8, 8, dtype=torch.float64)
    seen = _seen(DownShiftedConv2d(2, 3, (2, 3)).double(), x, (0, slice(None), 4, 4)).any(0)
    assert seen[3:5, 3:6].all() and seen.sum() == 6            # rows 3-4, columns 3-5
    conv = DownRightShiftedConv2d(2, 4, (2, 2), current_mask=torch.zeros(4, 2)).double()
    seen = _seen(conv, x, (0, slice(None), 4, 4)).any(0)
    assert sorted(map(tuple, torch.nonzero(seen).tolist())) == [(3, 3), (3, 4), (4, 3)]
    for up, right_too in [(DownShiftedConvTranspose2d(2, 3, (2, 3), stride=2), False),
                          (DownRightShiftedConvTranspose2d(2, 3, (2, 2), stride=2), True)]:
        up = up.double()
        small = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
        assert up(small).shape == (1, 3, 8, 8)
        for i, j in [(5, 5), (2, 6), (7, 0)]:
            s = _seen(up, small, (0, slice(None), i, j)).any(0)
            assert not s[i // 2 + 1:].any()                    # no later row
            if right_too:
                assert not s[:, j // 2 + 1:].any()             # no later column


def test_gated_layer_stacks_are_causal():
    layer = GatedPixelLayer([0], [0] * 4, kernel_size=3, first=True).double()
    x = torch.zeros(1, 1, 7, 7, dtype=torch.float64)
    v_seen = _seen(lambda z: layer(z, z)[0], x, (0, slice(None), 3, 3))[0]
    h_seen = _seen(lambda z: layer(z, z)[1], x, (0, slice(None), 3, 3))[0]
    assert not v_seen[3:].any() and v_seen[2, 2:5].all()      # vertical: rows above only
    assert torch.equal(h_seen[3], torch.tensor([False, False, True, False, False, False,
                                                False]))       # row 3: one pixel left
    assert not h_seen[4:].any()


# ---------------------------------------------------------------------- networks: causality
def _order(h, w, c):
    """Raster/colour index of every sub-pixel: ``(C, H, W)``."""
    return torch.arange(h * w * c).reshape(h, w, c).permute(2, 0, 1)


@pytest.mark.parametrize("cls", NETS)
@pytest.mark.parametrize("c", [1, 3])
def test_network_is_autoregressive_by_gradient(cls, c):
    net = _net(cls, c, n_levels=3, n_classes=2)
    h, w, n_levels = 6, 5, 3
    x = torch.zeros(1, c, h, w, dtype=torch.float64)
    labels = torch.tensor([1])
    order = _order(h, w, c)
    for i, j in [(0, 0), (2, 3), (5, 4), (3, 0)]:
        for ch in range(c):
            seen = _seen(lambda z: net(z, labels), x,
                         (0, slice(ch * n_levels, (ch + 1) * n_levels), i, j))
            assert not seen[order >= order[ch, i, j]].any()    # nothing at or after itself
            assert seen[:ch, i, j].all()                       # earlier colours of its pixel
            if j > 0:
                assert seen[:, i, j - 1].all()                 # the pixel to its left


@pytest.mark.parametrize("n_layers,kernel_size", [(1, 3), (3, 3), (2, 5)])
def test_pixelcnn_has_a_blind_spot(n_layers, kernel_size):
    net = _net(PixelCNN, 1, n_layers=n_layers, kernel_size=kernel_size, hidden_channels=8)
    r = net.receptive_field
    size = 2 * r + 3
    i = j = r + 1
    seen = _seen(net, torch.zeros(1, 1, size, size, dtype=torch.float64),
                 (0, slice(None), i, j))[0]
    above_right = seen[i - r:i, j + 1:j + r + 1]                # (r, r): rows above, to the right
    assert not above_right.all()
    # a hole, not the edge of the field: an unseen pixel with a seen pixel above it
    holes = ~above_right[1:] & above_right[:-1]
    assert holes.any()
    row, col = torch.nonzero(holes)[0].tolist()
    assert not seen[i - r + row + 1, j + 1 + col] and seen[i - r + row, j + 1 + col]
    # e.g. with a 7x7 input conv and one 3x3 block: (i-1, j+4) is unseen, (i-2, j+4) seen
    if (n_layers, kernel_size) == (1, 3):
        assert not seen[i - 1, j + 4] and seen[i - 2, j + 4]


@pytest.mark.parametrize("n_layers,kernel_size,input_kernel_size", [(1, 3, 7), (3, 3, 5),
                                                                    (2, 5, 3)])
def test_gated_pixelcnn_sees_its_whole_receptive_field(n_layers, kernel_size,
                                                       input_kernel_size):
    net = _net(GatedPixelCNN, 1, n_layers=n_layers, kernel_size=kernel_size,
               input_kernel_size=input_kernel_size, hidden_channels=6)
    r = net.receptive_field
    assert r == input_kernel_size // 2 + n_layers * (kernel_size // 2)
    size = 2 * r + 3
    i = j = r + 1
    seen = _seen(net, torch.zeros(1, 1, size, size, dtype=torch.float64),
                 (0, slice(None), i, j))[0]
    expected = torch.zeros(size, size, dtype=torch.bool)
    expected[i - r:i, j - r:j + r + 1] = True                  # the full rectangle above
    expected[i, j - r:j] = True                                # the row to the left
    assert torch.equal(seen, expected)


@pytest.mark.parametrize("cls", NETS)
def test_log_prob_shapes_and_normalisation_per_pixel(cls):
    net = _net(cls, 3, n_levels=5)
    x = torch.randint(0, 5, (2, 3, 4, 6)).double()
    raw = net(x)
    assert raw.shape == (2, 15, 4, 6)
    lp = net.log_prob(x)
    assert lp.shape == (2, 3, 4, 6) and (lp <= 0).all()
    probs = raw.view(2, 3, 5, 4, 6).softmax(2)
    assert torch.allclose(lp.exp(), probs.gather(2, x.long()[:, :, None])[:, :, 0])
    with pytest.raises(ValueError, match="labels"):
        _net(cls, 1, n_classes=2)(x[:, :1])
    rebuilt = NETWORKS[type(net).__name__](**net.config)
    assert rebuilt.config == net.config


# ---------------------------------------------------------------------- generation
@pytest.mark.parametrize("cls", NETS)
@pytest.mark.parametrize("c", [1, 3])
def test_cached_step_logits_equal_full_forward(cls, c):
    """Teacher-forced: every cached step reproduces the full network's logits."""
    net = _net(cls, c, n_levels=5, n_classes=3, kernel_size=5)
    x = torch.randint(0, 5, (2, c, 6, 7)).double()
    labels = torch.tensor([0, 2])
    full = net(x, labels)
    for first in (0, 3):
        stepper = net.stepper(x.clone(), first, labels)
        filled = x.clone()
        filled[:, :, first:] = 0
        for i in range(first, 6):
            stepper.begin_row(i)
            for j in range(7):
                for ch in range(c):
                    raw = stepper.raw(i, j, filled)
                    part = slice(ch * 5, (ch + 1) * 5)
                    assert (raw[:, part] - full[:, part, i, j]).abs().max() < 1e-10
                    filled[:, ch, i, j] = x[:, ch, i, j]
                stepper.end_pixel(i, j, filled)


@pytest.mark.parametrize("cls", NETS)
@pytest.mark.parametrize("c,n_classes", [(1, 0), (3, 2)])
def test_cached_generation_equals_naive(cls, c, n_classes):
    net = _net(cls, c, n_levels=4, n_classes=n_classes)
    labels = torch.tensor([0, 1, 1]) if n_classes else None
    known = torch.randint(0, 4, (3, c, 2, 5)).double()
    for kn in (None, known):
        out = []
        for naive in (False, True):
            with torch.random.fork_rng():
                torch.manual_seed(3)
                out.append(net.generate(3, 5, 5, labels=labels, known=kn, naive=naive))
        assert torch.equal(out[0], out[1])
        assert out[0].shape == (3, c, 5, 5)
        assert ((out[0] >= 0) & (out[0] <= 3) & (out[0] == out[0].round())).all()
        if kn is not None:
            assert torch.equal(out[0][:, :, :2], known)
    with torch.random.fork_rng():
        torch.manual_seed(4)
        other = net.generate(3, 5, 5, labels=labels)
    assert not torch.equal(other, out[0])


@pytest.mark.parametrize("cls", NETS)
@pytest.mark.parametrize("n", [1, 2, 6])
@pytest.mark.parametrize("k,k_in,c,n_levels", [(3, 7, 1, 2), (1, 3, 2, 3), (5, 3, 3, 4)])
def test_cached_equals_naive_for_every_batch_size_and_kernel(cls, n, k, k_in, c, n_levels):
    """Bit for bit, float32 as the estimators run: the row's uniforms drawn in one call (CPU)
    and one call per draw (other devices: forced here) give the naive draws."""
    net = _net(cls, c, n_levels=n_levels, n_classes=2, kernel_size=k,
               input_kernel_size=k_in).float()
    labels = torch.arange(n) % 2
    known = torch.randint(0, n_levels, (n, c, 2, 6)).float()
    for kn in (None, known):
        with torch.random.fork_rng():
            torch.manual_seed(5)
            naive = net.generate(n, 6, 6, labels=labels, known=kn, naive=True)
        with torch.random.fork_rng():
            torch.manual_seed(5)
            cached = net.generate(n, 6, 6, labels=labels, known=kn)
        assert torch.equal(cached, naive)
        x, first = net._start_image(n, 6, 6, kn)
        with torch.random.fork_rng(), torch.inference_mode():
            torch.manual_seed(5)
            stepper = net.stepper(x, first, labels)
            stepper.row_uniforms = False
            for i in range(first, 6):
                stepper.begin_row(i)
                stepper.draw_row(i, x)
        assert torch.equal(x, naive)
    assert len(torch.unique(naive)) > 1


def test_row_buffer_conv_rows_and_advance():
    """conv_rows equals F.conv2d over the buffer's first rows; advance keeps views valid."""
    from tsargen.networks._image import RowBuffer, conv_matrix, with_bias
    torch.manual_seed(0)
    rows = RowBuffer(torch.randn(2, 3, 4, 6, dtype=torch.float64), 3, 2, 1)   # (B, C, R, W)
    weight = torch.randn(5, 3, 2, 4, dtype=torch.float64)                     # 2 rows, 4 cols
    bias = torch.randn(2, 5, dtype=torch.float64)
    out = rows.conv_rows(conv_matrix(weight), 2, bias, torch.empty(2, 6, 5, dtype=torch.float64))
    full = torch.nn.functional.conv2d(rows.buf[:, :2].permute(0, 3, 1, 2), weight)
    assert torch.allclose(out, full[:, :, 0].transpose(1, 2) + bias[:, None], atol=1e-12)
    cells = rows.cells(6)
    cells[4].fill_(7.0)
    last = rows.buf[:, -1].clone()
    rows.advance()
    assert torch.equal(rows.buf[:, 1], last) and not rows.buf[:, -1].any()
    cells[4].fill_(3.0)                                   # the view now shows the new row
    assert (rows.buf[:, -1, 2 + 4] == 3.0).all() and (rows.buf[:, 1, 2 + 4] == 7.0).all()
    x, m, b = (torch.randn(4, 3, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64),
               torch.randn(2, dtype=torch.float64))
    ones = torch.ones(4, 1, dtype=torch.float64)
    assert torch.allclose(torch.cat([x, ones], 1) @ with_bias(m, b), x @ m + b, atol=1e-12)
    assert torch.equal((torch.cat([x, ones], 1) @ with_bias(m, b, ones=True))[:, -1], ones[:, 0])


def test_generation_is_one_batch_and_any_size():
    net = _net(GatedPixelCNN, 1, n_levels=2).float()
    assert net.generate(7, 3, 9).shape == (7, 1, 3, 9)
    with pytest.raises(ValueError, match="known"):
        net.generate(2, 4, 4, known=torch.zeros(2, 1, 2, 5))


def test_all_pairs_of_kernels_build():
    for cls, (k, k_in) in itertools.product(NETS, [(1, 3), (3, 3), (5, 7)]):
        net = cls(n_channels=2, n_levels=3, n_layers=1, hidden_channels=4, kernel_size=k,
                  input_kernel_size=k_in)
        assert net(torch.zeros(1, 2, 3, 3)).shape == (1, 6, 3, 3)
