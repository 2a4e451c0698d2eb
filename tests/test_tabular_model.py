"""The tabular MLP: each layer's value is its own module's output, so a hook on a layer's module reads
that layer; model files saved when one activation module served every layer still load."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deepvis.tabular.data import load_table
from deepvis.tabular.model import TabularMLP, load_model
from deepvis.tabular.train import Trainer, TrainSpec

SIZES = [5, 6, 6, 6, 3]  # three hidden layers of one width (a hook reading the wrong one shows) and the output


def manual_layers(model: TabularMLP, x: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's value written out with F.softplus, not through the model's own modules."""
    values = []
    for i, linear in enumerate(model.linears):
        x = F.linear(x, linear.weight, linear.bias)
        if i < len(model.linears) - 1:
            x = F.softplus(x)
        values.append(x)
    return values


def test_each_hidden_layer_has_its_own_activation_module():
    model = TabularMLP(SIZES, "softplus")
    hidden = model.activations[:-1]
    assert len(hidden) == len(SIZES) - 2
    assert all(isinstance(m, nn.Softplus) for m in hidden)
    assert len({id(m) for m in model.activations}) == len(model.linears)  # no module serves two layers
    assert isinstance(model.activations[-1], nn.Identity)  # out is the raw output


@pytest.mark.parametrize("layer", range(len(SIZES) - 1))
def test_a_hook_on_layer_k_reads_layer_k(layer):
    torch.manual_seed(0)
    model = TabularMLP(SIZES, "softplus").eval()
    x = torch.randn(9, SIZES[0])
    seen = []
    handle = model.activations[layer].register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    expected = manual_layers(model, x)
    assert len(seen) == 1  # called once per forward: the hook keeps no other layer's value
    torch.testing.assert_close(seen[0], expected[layer])
    # Every other layer differs from it (different widths, or values at least 1% apart), so reading
    # the wrong layer could not pass the comparison above.
    for other, value in enumerate(expected):
        if other != layer and value.shape == seen[0].shape:
            assert (value - seen[0]).abs().max() > 0.01
    with torch.no_grad():
        torch.testing.assert_close(model(x, upto=layer), expected[layer])
        torch.testing.assert_close(model.all_layers(x)[layer], expected[layer])


class OneActivationMLP(nn.Module):
    """The layout model.pth files were saved with before: one activation module for every layer."""

    def __init__(self, sizes: list[int]):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = nn.Softplus()


def test_a_model_saved_with_one_shared_activation_loads(tmp_path):
    trainer = Trainer(load_table(data="wine"), TrainSpec(hidden=(6, 5), epochs=1))
    trainer.train()
    trainer.save(tmp_path)
    torch.manual_seed(3)
    old = OneActivationMLP(trainer.model.sizes)
    assert set(old.state_dict()) == set(trainer.model.state_dict())  # the same keys: linears only
    torch.save(old.state_dict(), tmp_path / "model.pth")
    model, _meta, _encoding = load_model(tmp_path)
    x = torch.randn(4, model.sizes[0])
    for loaded, saved in zip(model.linears, old.linears):
        assert torch.equal(loaded.weight, saved.weight) and torch.equal(loaded.bias, saved.bias)
    with torch.no_grad():
        torch.testing.assert_close(model(x), manual_layers(model, x)[-1])


def test_captum_neuron_ig_on_a_layer_module_equals_the_batched_attributions():
    """Captum's per-neuron integrated gradients, hooked on h1's module, give deepvis's numbers for h1."""
    pytest.importorskip("captum")
    from captum.attr import NeuronIntegratedGradients

    from deepvis.tabular.explain import integrated_gradients

    torch.manual_seed(1)
    model = TabularMLP(SIZES, "softplus").eval().requires_grad_(False)
    x, baseline = torch.randn(6, SIZES[0]), torch.randn(SIZES[0])
    batched = integrated_gradients(model, 0, x, baseline, steps=16)
    captum = NeuronIntegratedGradients(model, model.activations[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.stack([captum.attribute(x, j, baselines=baseline[None], n_steps=16, method="riemann_middle")
                              for j in range(SIZES[1])], 1)
    # Both take the same 16 midpoints in float32; they differ only in the order of the sums.
    torch.testing.assert_close(theirs, batched, rtol=1e-4, atol=1e-5)
