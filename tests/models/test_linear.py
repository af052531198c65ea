"""The oneDNN inference path of ``blip_plugin.models.linear.Linear``."""

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from blip_plugin.models import linear as lin

needs_onednn = pytest.mark.skipif(lin.ONEDNN_LINEAR is None, reason='torch built without oneDNN')


class Ops(TorchDispatchMode):
    """Records the aten / mkldnn ops a call runs."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


@pytest.fixture(autouse=True)
def restore_switch():
    on = lin.onednn_linear_enabled()
    yield
    lin.set_onednn_linear(on)


@needs_onednn
@pytest.mark.parametrize('shape', [(1, 32), (3, 32), (12, 32), (2, 20, 32)])
@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('gelu', [False, True])
def test_inference_runs_onednn_and_equals_linear(shape, bias, gelu):
    torch.manual_seed(0)
    layer = lin.Linear(32, 48, bias=bias)
    x = torch.randn(shape)
    with torch.no_grad(), Ops() as ops:
        y = layer(x, gelu=gelu)
    ref = F.linear(x, layer.weight, layer.bias)
    ref = F.gelu(ref) if gelu else ref
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
    assert y.shape == (*shape[:-1], 48) and y.is_contiguous()
    assert 'mkldnn._linear_pointwise' in ops.names
    assert 'aten.gelu' not in ops.names  # fused into the product


def test_training_autocast_and_switch_take_nn_linear():
    torch.manual_seed(0)
    layer = lin.Linear(32, 48)
    x = torch.randn(5, 32)
    with Ops() as ops:  # grad enabled: autograd-aware nn.Linear
        y = layer(x, gelu=True)
    assert y.requires_grad and 'mkldnn._linear_pointwise' not in ops.names
    y.sum().backward()
    assert layer.weight.grad is not None
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16), Ops() as ops:
        assert layer(x).dtype == torch.bfloat16
    assert 'mkldnn._linear_pointwise' not in ops.names
    lin.set_onednn_linear(False)
    with torch.no_grad(), Ops() as ops:
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))
    assert 'mkldnn._linear_pointwise' not in ops.names


def test_a_failing_onednn_falls_back_for_good(monkeypatch):
    def broken(*args):
        raise RuntimeError('could not create a primitive descriptor')

    monkeypatch.setattr(lin, 'ONEDNN_LINEAR', broken)
    lin.set_onednn_linear(True)
    layer = lin.Linear(8, 4)
    x = torch.randn(3, 8)
    with torch.no_grad():
        y = layer(x, gelu=True)
    torch.testing.assert_close(y, F.gelu(F.linear(x, layer.weight, layer.bias)))
    assert not lin.onednn_linear_enabled()


@needs_onednn
def test_packed_weight_is_kept_until_the_weight_changes():
    import copy

    torch.manual_seed(0)
    layer = lin.Linear(16, 8)
    x = torch.randn(3, 16)
    with torch.inference_mode():  # a copy packed in inference mode serves no_grad calls too
        layer(x)
    packed = lin._PACKED[layer][1]
    with torch.no_grad():
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))
        assert lin._PACKED[layer][1] is packed  # reused
        layer.weight.mul_(2)  # in place: the version counter moves
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))
        assert lin._PACKED[layer][1] is not packed
    twin = copy.deepcopy(layer)  # the copy lives outside the module's state
    assert set(twin.state_dict()) == {'weight', 'bias'} and twin not in lin._PACKED
    layer(x).sum().backward()  # a training call drops it
    assert layer not in lin._PACKED
    with torch.no_grad():
        layer(x)
        assert layer in lin._PACKED
        lin.set_onednn_linear(True, pack=False)  # frees every copy, runs on the plain weight
        assert len(lin._PACKED) == 0
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))
        assert len(lin._PACKED) == 0


@needs_onednn
def test_a_layer_built_in_inference_mode_runs_onednn():
    with torch.inference_mode():  # its weight keeps no version counter
        layer = lin.Linear(8, 4)
        x = torch.randn(2, 8)
        with Ops() as ops:
            y = layer(x)
    torch.testing.assert_close(y, F.linear(x, layer.weight, layer.bias))
    assert 'mkldnn._linear_pointwise' in ops.names and lin.onednn_linear_enabled()


@needs_onednn
def test_bad_input_raises_torchs_error_and_keeps_onednn():
    layer = lin.Linear(8, 4)
    with torch.no_grad(), pytest.raises(RuntimeError, match='cannot be multiplied'):
        layer(torch.randn(2, 7))
    assert lin.onednn_linear_enabled()
