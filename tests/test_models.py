"""fmnist_lib.models: shapes, gradients, sizes and the 'strictly simpler' claim."""
import copy

import pytest
import torch
from torch import nn

from fmnist_lib.models import (BACKGROUND, MODELS, BackgroundPadConv2d, LeNet5, SimpleCNN,
                               count_macs, model_summary)

ALL = [SimpleCNN, LeNet5]


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("batch", [1, 8])
def test_output_is_logits_per_class(cls, batch):
    out = cls()(torch.rand(batch, 1, 28, 28))
    assert out.shape == (batch, 10) and out.dtype == torch.float32


@pytest.mark.parametrize("make", [lambda: SimpleCNN(dropout=0.5), lambda: SimpleCNN(width=1),
                                  LeNet5, lambda: LeNet5(activation="tanh", pooling="avg")],
                         ids=["simple-dropout", "simple-w1", "lenet", "lenet-1998"])
def test_gradients_reach_every_parameter(make):
    # Seeded: a randomly drawn width-1 conv can be dead under ReLU on every input, which
    # would make this test depend on whatever drew from the global generator before it.
    torch.manual_seed(0)
    model = make()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    nn.functional.cross_entropy(model.train()(x), y).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("activation, pooling", [("relu", "max"), ("tanh", "avg"), ("relu", "avg")])
def test_lenet5_has_61706_parameters(activation, pooling):
    assert sum(p.numel() for p in LeNet5(activation, pooling).parameters()) == 61_706


def test_lenet5_rejects_unknown_variants():
    with pytest.raises(ValueError, match="activation must be one of"):
        LeNet5(activation="gelu")


def _macs_by_hand(model: nn.Module) -> int:
    if isinstance(model, LeNet5):
        return (28 * 28 * 6 * 5 * 5            # C1: 6 maps of 28x28, 5x5x1 kernels
                + 10 * 10 * 16 * 5 * 5 * 6     # C3: 16 maps of 10x10, 5x5x6 kernels
                + 400 * 120 + 120 * 84 + 84 * 10)
    w = model.width
    return 28 * 28 * w * 3 * 3 + w * 14 * 14 * 10


@pytest.mark.parametrize("model", [LeNet5(), SimpleCNN(), SimpleCNN(width=1), SimpleCNN(width=16)],
                         ids=["lenet", "simple", "simple-w1", "simple-w16"])
def test_count_macs_matches_a_hand_computation(model):
    assert count_macs(model) == _macs_by_hand(model)


def test_model_summary_values():
    lenet, simple = model_summary(LeNet5()), model_summary(SimpleCNN())
    assert lenet == {"model": "LeNet5", "conv_layers": 2, "fc_layers": 3, "parameters": 61_706,
                     "macs": 416_520, "layers": "conv5x5@6 > conv5x5@16 > fc120 > fc84 > fc10"}
    assert simple == {"model": "SimpleCNN", "conv_layers": 1, "fc_layers": 1, "parameters": 15_770,
                      "macs": 72_128, "layers": "conv3x3@8 > fc10"}


@pytest.mark.parametrize("width", [None, *range(1, SimpleCNN.MAX_WIDTH + 1)])
def test_simple_cnn_is_strictly_simpler_on_every_axis(width):
    simple = model_summary(SimpleCNN() if width is None else SimpleCNN(width=width))
    lenet = model_summary(LeNet5())
    for axis in ("conv_layers", "fc_layers", "parameters", "macs"):
        assert simple[axis] < lenet[axis], axis


@pytest.mark.parametrize("width", [0, 17, 2.0])
def test_simple_cnn_width_out_of_range(width):
    with pytest.raises(ValueError, match=r"width must be an int in 1\.\.16"):
        SimpleCNN(width=width)


def test_simple_cnn_dropout_out_of_range():
    with pytest.raises(ValueError, match="dropout"):
        SimpleCNN(dropout=1.0)


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("shape", [(2, 3, 28, 28), (2, 1, 32, 32), (1, 28, 28)], ids=str)
def test_bad_input_shape_is_a_clear_error(cls, shape):
    with pytest.raises(ValueError) as err:
        cls()(torch.rand(shape))
    message = str(err.value)
    assert f"{cls.__name__} expects" in message and "(B, 1, 28, 28)" in message
    assert str(shape) in message and "unsqueeze(0)" in message


@pytest.mark.parametrize("cls", ALL)
def test_last_conv_is_the_last_conv_in_features(cls):
    model = cls()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert isinstance(model.last_conv, nn.Conv2d) and model.last_conv is convs[-1]


def test_hyperparameters_are_stored_for_skorch():
    assert SimpleCNN(width=4, dropout=0.25).width == 4 and SimpleCNN(dropout=0.25).dropout == 0.25
    assert LeNet5(activation="tanh").activation == "tanh"
    assert MODELS == {"simple": SimpleCNN, "lenet": LeNet5}


# ---- padding with the background ------------------------------------------------------------

@pytest.mark.parametrize("cls", ALL)
def test_black_image_gives_a_frameless_first_layer(cls):
    """A black image (normalised: BACKGROUND everywhere) must give a spatially constant first
    conv output: with zero padding the 1-px frame would differ (an edge that is not there)."""
    torch.manual_seed(0)
    model = cls().eval()
    conv = model.features[0]
    out = conv(torch.full((1, 1, 28, 28), BACKGROUND))  # (1, C, 28, 28)
    assert out.shape[-2:] == (28, 28)
    assert torch.allclose(out, out[..., 14:15, 14:15].expand_as(out), atol=1e-5)
    zero_padded = nn.functional.conv2d(torch.full((1, 1, 28, 28), BACKGROUND), conv.weight,
                                       conv.bias, padding=conv.padding)
    assert not torch.allclose(zero_padded, zero_padded[..., 14:15, 14:15].expand_as(zero_padded),
                              atol=1e-3)  # the check above can fail


def test_background_pad_conv_equals_explicit_pad_and_keeps_conv2d_state():
    torch.manual_seed(0)
    conv = BackgroundPadConv2d(2, 3, kernel_size=5, padding=2, pad_value=-0.5)
    plain = nn.Conv2d(2, 3, kernel_size=5, padding=2)
    assert conv.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(4, 2, 12, 12)
    expected = nn.functional.conv2d(nn.functional.pad(x, (2, 2, 2, 2), value=-0.5),
                                    conv.weight, conv.bias)
    assert torch.allclose(conv(x), expected, atol=1e-6) and conv(x).shape == (4, 3, 12, 12)
    with pytest.raises(ValueError, match="padding_mode"):
        BackgroundPadConv2d(1, 1, 3, padding=1, padding_mode="reflect")


@pytest.mark.realdata
def test_background_constant_is_normalised_black():
    from fmnist_lib.data import normalisation_stats

    mean, std = normalisation_stats()
    assert abs(BACKGROUND - (0.0 - mean) / std) < 1e-9


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_simple_cnn_channels_last_equals_the_contiguous_model(dropout):
    """The channels-last classifier path (flatten in memory order, permuted weight columns)
    gives the contiguous model's logits and gradients, up to the order of the sums."""
    torch.manual_seed(0)
    contiguous = SimpleCNN(width=8, dropout=dropout)
    channels_last = copy.deepcopy(contiguous).to(memory_format=torch.channels_last)
    x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    logits = []
    for model in (contiguous, channels_last):
        torch.manual_seed(1)  # the same dropout draws
        logits.append(model(x))
        nn.functional.cross_entropy(logits[-1], y).backward()
    assert torch.allclose(logits[1], logits[0], atol=1e-5)
    assert torch.allclose(channels_last.eval()(x), contiguous.eval()(x), atol=1e-5)
    for (name, a), b in zip(contiguous.named_parameters(), channels_last.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), name
    assert contiguous.state_dict().keys() == channels_last.state_dict().keys()
