"""Bad input to the mechanism entry points raises CausalError naming the argument."""

import pytest
import torch

from causalppl.errors import CausalError
from causalppl.kernels import mechanism_forward, mechanism_sample, topological_levels
from causalppl.kernels.testing import random_mechanism


@pytest.fixture
def additive():
    return random_mechanism(0, nodes=3, max_parents=2, hidden=(4,), outputs=1, density=1.0)


def forward_args(net, **change):
    args = dict(
        x=torch.randn(5, 3),
        parent_index=net.parent_index,
        parent_mask=net.parent_mask,
        weights=net.weights,
        biases=net.biases,
        activation="tanh",
        scale=net.scale,
    )
    args.update(change)
    return args


# lambdas: parameters are built at import time, before the float64 default is set
@pytest.mark.parametrize(
    "change,match",
    [
        (lambda: dict(x=torch.randn(5)), "x must have 2"),
        (lambda: dict(x=torch.randint(0, 3, (5, 3))), "x must be float"),
        (lambda: dict(x=torch.randn(5, 4)), "parent_index must have shape"),
        (lambda: dict(parent_index=torch.zeros(3, 2)), "parent_index must be an int"),
        (lambda: dict(parent_index=torch.full((3, 2), 3)), r"parent_index has entries outside \[0, 3\)"),
        (lambda: dict(parent_mask=torch.ones(3, 1)), "parent_mask must have shape"),
        (lambda: dict(weights="w"), "weights must be a non-empty list"),
        (lambda: dict(biases=[]), "biases must be a list"),
        (lambda: dict(activation="gelu"), "activation='gelu'"),
        (lambda: dict(scale=None), "scale .* is required"),
        (lambda: dict(scale=torch.tensor([1.0, -1.0, 1.0])), "scale must be positive"),
        (lambda: dict(scale=torch.ones(2)), "scale must have shape"),
        (lambda: dict(scale=torch.ones(3, dtype=torch.float32)), "scale must have the dtype"),
    ],
)
def test_forward_bad_input(additive, change, match):
    with pytest.raises(CausalError, match=match):
        mechanism_forward(**forward_args(additive, **change()))


def test_layer_shapes_are_checked(additive):
    w = list(additive.weights)
    w[1] = torch.randn(3, 5, 1)
    with pytest.raises(CausalError, match=r"weights\[1\] must have shape \[3, 4, \?\]"):
        mechanism_forward(**forward_args(additive, weights=w))
    b = list(additive.biases)
    b[0] = torch.randn(3, 5)
    with pytest.raises(CausalError, match=r"biases\[0\] must have shape \[3, 4\]"):
        mechanism_forward(**forward_args(additive, biases=b))
    w = [additive.weights[0], torch.randn(3, 4, 3)]
    b = [additive.biases[0], torch.randn(3, 3)]
    with pytest.raises(CausalError, match=r"weights\[-1\] must have 1 output"):
        mechanism_forward(**forward_args(additive, weights=w, biases=b))
    w = [additive.weights[0].float(), additive.weights[1]]
    with pytest.raises(CausalError, match=r"weights\[0\] has dtype torch.float32"):
        mechanism_forward(**forward_args(additive, weights=w))


def test_location_scale_takes_no_scale():
    net = random_mechanism(0, nodes=3, max_parents=2, hidden=(4,), outputs=2)
    with pytest.raises(CausalError, match="scale must be None"):
        mechanism_forward(**forward_args(net, scale=torch.ones(3)))


def sample_args(net, **change):
    args = dict(
        u=torch.randn(5, 3),
        parent_index=net.parent_index,
        parent_mask=net.parent_mask,
        weights=net.weights,
        biases=net.biases,
        activation="relu",
        order=net.order,
        scale=net.scale,
    )
    args.update(change)
    return args


def test_sample_bad_input(additive):
    backwards = additive.order.flip(0)
    cases = [
        (dict(order=torch.tensor([0, 0, 1])), "order must be a permutation"),
        (dict(order=torch.tensor([0.0, 1.0, 2.0])), "order must be an int"),
        (dict(order=backwards), "order is not topological: node"),
        (dict(variant="wave"), "variant='wave'"),
        (dict(intervene_mask=torch.ones(3)), "intervene_mask must be a bool"),
        (dict(intervene_mask=torch.ones(2, dtype=torch.bool), intervene_value=1.0), "intervene_mask must have shape"),
        (dict(intervene_mask=torch.ones(3, dtype=torch.bool)), "intervene_value is required"),
        (dict(intervene_value=1.0), "intervene_value was given without intervene_mask"),
        (
            dict(intervene_mask=torch.ones(3, dtype=torch.bool), intervene_value=torch.ones(4)),
            "intervene_value of shape",
        ),
        (dict(u=torch.randn(5)), "u must have 2"),
    ]
    for change, match in cases:
        with pytest.raises(CausalError, match=match):
            mechanism_sample(**sample_args(additive, **change))


def test_levels_group_nodes_by_longest_path():
    # 0 -> 1 -> 3 and 0 -> 2 -> 3, 4 isolated: levels {0, 4}, {1, 2}, {3}
    pidx = torch.tensor([[0, 0], [0, 0], [0, 0], [1, 2], [0, 0]])
    pmask = torch.tensor([[0.0, 0], [1, 0], [1, 0], [1, 1], [0, 0]])
    levels = topological_levels(torch.tensor([4, 0, 2, 1, 3]), pidx, pmask)
    assert [sorted(lv.tolist()) for lv in levels] == [[0, 4], [1, 2], [3]]
    with pytest.raises(CausalError, match="node 3 comes before its parent"):
        topological_levels(torch.tensor([0, 3, 1, 2, 4]), pidx, pmask)
